"""Surveys and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, text, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store._upsert import insert_row_if_absent
from loyalty.store.tables import (
    members,
    orders,
    segment_memberships,
    survey_invitations,
    survey_responses,
    surveys,
)

_r = survey_responses


class SurveyRepository:
    """Surveys of one tenant."""

    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def add(self, values: dict[str, Any], now: datetime) -> RowMapping:
        stmt = (
            surveys.insert()
            .values(tenant_id=self.tenant_id, **values, created_at=now, updated_at=now)
            .returning(*surveys.c)
        )
        return self.conn.execute(stmt).mappings().one()

    def get(self, survey_id: int) -> RowMapping | None:
        stmt = select(surveys).where(
            surveys.c.tenant_id == self.tenant_id, surveys.c.id == survey_id
        )
        return self.conn.execute(stmt).mappings().first()

    def all(self, active: bool | None) -> list[RowMapping]:
        stmt = select(surveys).where(surveys.c.tenant_id == self.tenant_id)
        if active is not None:
            stmt = stmt.where(surveys.c.active == int(active))
        return list(self.conn.execute(stmt.order_by(surveys.c.id)).mappings())

    def update(self, survey_id: int, values: dict[str, Any], now: datetime) -> None:
        stmt = update(surveys).where(
            surveys.c.tenant_id == self.tenant_id, surveys.c.id == survey_id
        )
        self.conn.execute(stmt.values(**values, updated_at=now))

    def add_response(self, values: dict[str, Any]) -> RowMapping | None:
        """The new response, or None when its id or (member, order) was already answered."""
        row = insert_row_if_absent(self.conn, _r, {"tenant_id": self.tenant_id, **values})
        return None if row is None else row._mapping

    def response(self, survey_id: int, response_id: str) -> RowMapping | None:
        stmt = select(_r).where(
            _r.c.tenant_id == self.tenant_id,
            _r.c.survey_id == survey_id,
            _r.c.response_id == response_id,
        )
        return self.conn.execute(stmt).mappings().first()

    def scores(
        self, survey_id: int, start: datetime | None, end: datetime | None, segment: str | None
    ) -> list[tuple[datetime, int]]:
        """(answered_at, score) of the responses in [start, end), from the segment's current
        members only when ``segment`` is given."""
        stmt = select(_r.c.answered_at, _r.c.score).where(
            _r.c.tenant_id == self.tenant_id, _r.c.survey_id == survey_id
        )
        if start is not None:
            stmt = stmt.where(_r.c.answered_at >= start)
        if end is not None:
            stmt = stmt.where(_r.c.answered_at < end)
        if segment is not None:
            m = segment_memberships
            stmt = stmt.join(
                m,
                (m.c.tenant_id == _r.c.tenant_id)
                & (m.c.member_id == _r.c.member_id)
                & (m.c.segment_key == segment),
            )
        return [(at, score) for at, score in self.conn.execute(stmt).all()]

    def member_external_id(self, member_id: int) -> str | None:
        stmt = select(members.c.external_id).where(
            members.c.tenant_id == self.tenant_id, members.c.id == member_id
        )
        return self.conn.execute(stmt).scalar()


def invitation_surveys(conn: Connection, tenant_id: int | None) -> list[RowMapping]:
    """Active post-purchase surveys of every tenant (or one)."""
    stmt = select(surveys).where(surveys.c.active == 1, surveys.c.after_order == 1)
    if tenant_id is not None:
        stmt = stmt.where(surveys.c.tenant_id == tenant_id)
    return list(conn.execute(stmt.order_by(surveys.c.id)).mappings())


def lock_survey(conn: Connection, survey_id: int) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 7_260_000_000 + survey_id})


def orders_to_invite(
    conn: Connection, survey: RowMapping, until: datetime, limit: int
) -> list[RowMapping]:
    """Orders paid since the survey began and at least its delay ago, not cancelled, neither
    invited nor answered yet."""
    o, i = orders, survey_invitations
    invited = select(i.c.id).where(
        i.c.tenant_id == o.c.tenant_id, i.c.survey_id == survey["id"], i.c.order_pk == o.c.id
    )
    answered = select(_r.c.id).where(
        _r.c.tenant_id == o.c.tenant_id,
        _r.c.survey_id == survey["id"],
        _r.c.member_id == o.c.member_id,
        _r.c.order_key == o.c.order_id,
    )
    stmt = (
        select(
            o.c.id.label("order_pk"),
            o.c.member_id,
            o.c.order_id,
            o.c.paid_at,
            members.c.external_id,
        )
        .join(members, members.c.id == o.c.member_id)
        .where(
            o.c.tenant_id == survey["tenant_id"],
            o.c.status != "cancelled",
            o.c.paid_at >= survey["created_at"],
            o.c.paid_at <= until,
            ~exists(invited),
            ~exists(answered),
        )
        .order_by(o.c.id)
        .limit(limit)
    )
    return list(conn.execute(stmt).mappings())


def add_invitations(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(survey_invitations.insert(), rows)
