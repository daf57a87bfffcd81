"""Segments, their current members and the entered/left history."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store._raw import RawRunner, RawStatement
from loyalty.store._upsert import insert_row_if_absent
from loyalty.store.tables import (
    member_profiles,
    members,
    segment_history,
    segment_memberships,
    segments,
)

_CHUNK = 1_000
_m = segment_memberships
_ENTER = RawStatement(
    """INSERT INTO segment_memberships (tenant_id, segment_key, member_id, entered_at)
    VALUES (:t, :k, :m, :at)"""
)
_HISTORY = RawStatement(
    """INSERT INTO segment_history (tenant_id, segment_key, member_id, change, at)
    VALUES (:t, :k, :m, :c, :at)"""
)


class SegmentRepository:
    """Segments of one tenant."""

    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.raw = RawRunner(conn)

    # --- definitions ----------------------------------------------------------------------

    def add(self, values: dict[str, Any], now: datetime) -> RowMapping | None:
        """The new row, or None when the key is taken."""
        row = insert_row_if_absent(
            self.conn,
            segments,
            {"tenant_id": self.tenant_id, **values, "created_at": now, "updated_at": now},
        )
        return None if row is None else row._mapping

    def get(self, key: str) -> RowMapping | None:
        stmt = select(segments).where(segments.c.tenant_id == self.tenant_id, segments.c.key == key)
        return self.conn.execute(stmt).mappings().first()

    def all(self) -> list[RowMapping]:
        stmt = (
            select(segments).where(segments.c.tenant_id == self.tenant_id).order_by(segments.c.id)
        )
        return list(self.conn.execute(stmt).mappings())

    def update(self, key: str, values: dict[str, Any], now: datetime) -> None:
        stmt = update(segments).where(segments.c.tenant_id == self.tenant_id, segments.c.key == key)
        self.conn.execute(stmt.values(**values, updated_at=now))

    def delete(self, key: str) -> None:
        self.conn.execute(
            delete(segments).where(segments.c.tenant_id == self.tenant_id, segments.c.key == key)
        )

    def lock(self, key: str) -> None:
        """Serialise changes to one segment's members (SQLite has one writer anyway)."""
        if self.conn.dialect.name == "postgresql":
            ident = zlib.crc32(f"segment:{self.tenant_id}:{key}".encode())
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ident})

    # --- memberships ----------------------------------------------------------------------

    def _scope(self, key: str) -> Any:
        return and_(_m.c.tenant_id == self.tenant_id, _m.c.segment_key == key)

    def member_ids(self, key: str) -> set[int]:
        return set(self.conn.execute(select(_m.c.member_id).where(self._scope(key))).scalars())

    def counts(self) -> dict[str, int]:
        stmt = (
            select(_m.c.segment_key, func.count())
            .where(_m.c.tenant_id == self.tenant_id)
            .group_by(_m.c.segment_key)
        )
        return {key: n for key, n in self.conn.execute(stmt).all()}

    def count(self, key: str) -> int:
        return int(
            self.conn.execute(select(func.count()).select_from(_m).where(self._scope(key))).scalar()
            or 0
        )

    def apply(self, key: str, entered: list[int], left: list[int], now: datetime) -> None:
        """Add and remove members and write one history row per change."""
        for start in range(0, len(left), _CHUNK):
            chunk = left[start : start + _CHUNK]
            self.conn.execute(delete(_m).where(self._scope(key), _m.c.member_id.in_(chunk)))
        at = self.raw.time(now)
        self.raw.executemany(
            _ENTER,
            [{"t": self.tenant_id, "k": key, "m": m, "at": at} for m in entered],
        )
        changes = [(m, "entered") for m in entered] + [(m, "left") for m in left]
        self.raw.executemany(
            _HISTORY,
            [{"t": self.tenant_id, "k": key, "m": m, "c": c, "at": at} for m, c in changes],
        )

    def members_page(self, key: str, after: int | None, limit: int) -> list[RowMapping]:
        conditions = [self._scope(key)]
        if after:
            conditions.append(_m.c.member_id > after)
        stmt = (
            select(
                _m.c.member_id,
                _m.c.entered_at,
                members.c.external_id,
                members.c.email,
                members.c.first_name,
                members.c.last_name,
                members.c.status,
            )
            .join(members, members.c.id == _m.c.member_id)
            .where(*conditions)
            .order_by(_m.c.member_id)
            .limit(limit)
        )
        return list(self.conn.execute(stmt).mappings())

    def of_member(self, member_id: int) -> list[RowMapping]:
        stmt = (
            select(_m.c.segment_key, _m.c.entered_at)
            .where(_m.c.tenant_id == self.tenant_id, _m.c.member_id == member_id)
            .order_by(_m.c.segment_key)
        )
        return list(self.conn.execute(stmt).mappings())

    def history(self, key: str, after: int | None = None, limit: int = 1_000) -> list[RowMapping]:
        """Entered/left rows of a segment, oldest first, with the member's external id."""
        h = segment_history
        conditions = [h.c.tenant_id == self.tenant_id, h.c.segment_key == key]
        if after:
            conditions.append(h.c.id > after)
        stmt = (
            select(h.c.id, h.c.member_id, h.c.change, h.c.at, members.c.external_id)
            .join(members, members.c.id == h.c.member_id)
            .where(*conditions)
            .order_by(h.c.id)
            .limit(limit)
        )
        return list(self.conn.execute(stmt).mappings())

    # --- what rules and built-ins are computed from ---------------------------------------

    def external_ids(self, member_ids: Iterable[int]) -> dict[int, str]:
        ids = list(member_ids)
        found: dict[int, str] = {}
        for start in range(0, len(ids), _CHUNK):
            stmt = select(members.c.id, members.c.external_id).where(
                members.c.tenant_id == self.tenant_id, members.c.id.in_(ids[start : start + _CHUNK])
            )
            found.update(self.conn.execute(stmt).all())
        return found

    def ids_of(self, external_ids: list[str]) -> dict[str, int]:
        stmt = select(members.c.external_id, members.c.id).where(
            members.c.tenant_id == self.tenant_id, members.c.external_id.in_(external_ids)
        )
        return dict(self.conn.execute(stmt).all())

    def profiled(self, column: str, value: str) -> set[int]:
        """Members whose profile has ``column == value`` (the built-in segments)."""
        stmt = select(member_profiles.c.member_id).where(
            member_profiles.c.tenant_id == self.tenant_id, member_profiles.c[column] == value
        )
        return set(self.conn.execute(stmt).scalars())

    def facts(self, columns: Iterable[str]) -> Iterator[RowMapping]:
        """Every member with the named member and profile columns (None where the member has
        no profile yet), plus ``member_id``."""
        p = member_profiles
        wanted = set(columns)
        selected = [members.c.id.label("member_id")]
        selected += [c for c in members.c if c.name in wanted and c.name != "id"]
        selected += [
            c for c in p.c if c.name in wanted and c.name not in ("member_id", "tenant_id")
        ]
        stmt = (
            select(*selected)
            .select_from(members.outerjoin(p, p.c.member_id == members.c.id))
            .where(members.c.tenant_id == self.tenant_id)
            .order_by(members.c.id)
        )
        yield from self.conn.execute(stmt).mappings()
