"""Earning rules (current row + version history) and the counters they keep per member."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, extract, func, or_, select, tuple_, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store._raw import RawRunner, RawStatement
from loyalty.store._upsert import insert_row_if_absent
from loyalty.store.tables import (
    birthday_changes,
    earning_rule_versions,
    earning_rules,
    members,
    orders,
    rule_budgets,
    rule_failures,
    rule_sets,
    rule_stamps,
    rule_usage,
)

# Read on every order and action event: a raw statement, the cheapest read there is.
_VERSION = RawStatement("SELECT version, active_rules FROM rule_sets WHERE tenant_id = :tenant_id")


class RuleRepository:
    def __init__(self, conn: Connection, tenant_id: int, raw: RawRunner) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.raw = raw
        self._lock = conn.dialect.name == "postgresql"

    # --- the rules -------------------------------------------------------------------------

    def set_version(self) -> tuple[int, int]:
        """The tenant's rule-set version and how many active rules it has; (0, 0) if none."""
        row = self.raw.one(_VERSION, {"tenant_id": self.tenant_id})
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    def add(self, name: str, trigger: str, now: datetime) -> int:
        """A new rule row at version 0; ``save_version`` fills it."""
        values = {
            "tenant_id": self.tenant_id,
            "version": 0,
            "name": name,
            "trigger": trigger,
            "definition": {},
            "created_at": now,
            "updated_at": now,
        }
        return int(self.conn.execute(earning_rules.insert().values(values)).inserted_primary_key[0])

    def save_version(
        self, rule_id: int, version: int, definition: dict[str, Any], actor: str, now: datetime
    ) -> None:
        """Make ``definition`` the rule's current version and keep it in the history."""
        self.conn.execute(
            earning_rule_versions.insert().values(
                tenant_id=self.tenant_id,
                rule_id=rule_id,
                version=version,
                definition=definition,
                actor=actor,
                created_at=now,
            )
        )
        self.conn.execute(
            update(earning_rules)
            .where(self._rule(rule_id))
            .values(
                version=version,
                name=definition["name"],
                trigger=definition["trigger"],
                definition=definition,
                updated_at=now,
            )
        )

    def delete(self, rule_id: int, now: datetime) -> None:
        self.conn.execute(
            update(earning_rules).where(self._rule(rule_id)).values(deleted_at=now, updated_at=now)
        )

    def bump_set_version(self, now: datetime) -> int:
        """Move the tenant's rule-set version on; every cached rule set becomes stale."""
        active = self.conn.execute(
            select(func.count()).where(
                earning_rules.c.tenant_id == self.tenant_id,
                earning_rules.c.deleted_at.is_(None),
            )
        ).scalar_one()
        values = {"tenant_id": self.tenant_id, "version": 1, "active_rules": active}
        if insert_row_if_absent(self.conn, rule_sets, {**values, "updated_at": now}) is not None:
            return 1
        stmt = (
            update(rule_sets)
            .where(rule_sets.c.tenant_id == self.tenant_id)
            .values(version=rule_sets.c.version + 1, active_rules=active, updated_at=now)
            .returning(rule_sets.c.version)
        )
        return int(self.conn.execute(stmt).scalar_one())

    def get(self, rule_id: int, *, lock: bool = False) -> RowMapping | None:
        stmt = select(earning_rules).where(
            self._rule(rule_id), earning_rules.c.deleted_at.is_(None)
        )
        if lock and self._lock:
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).mappings().first()

    def page(self, after: int | None, limit: int, trigger: str | None = None) -> list[RowMapping]:
        conditions = [
            earning_rules.c.tenant_id == self.tenant_id,
            earning_rules.c.deleted_at.is_(None),
        ]
        if after:
            conditions.append(earning_rules.c.id > after)
        if trigger:
            conditions.append(earning_rules.c.trigger == trigger)
        stmt = select(earning_rules).where(*conditions).order_by(earning_rules.c.id).limit(limit)
        return list(self.conn.execute(stmt).mappings())

    def current(self) -> list[RowMapping]:
        """Every rule not deleted, for building the tenant's rule set."""
        stmt = select(earning_rules.c.id, earning_rules.c.definition).where(
            earning_rules.c.tenant_id == self.tenant_id, earning_rules.c.deleted_at.is_(None)
        )
        return list(self.conn.execute(stmt).mappings())

    def versions(self, rule_id: int) -> list[RowMapping]:
        stmt = (
            select(earning_rule_versions)
            .where(
                earning_rule_versions.c.tenant_id == self.tenant_id,
                earning_rule_versions.c.rule_id == rule_id,
            )
            .order_by(earning_rule_versions.c.version)
        )
        return list(self.conn.execute(stmt).mappings())

    def _rule(self, rule_id: int) -> Any:
        return and_(earning_rules.c.tenant_id == self.tenant_id, earning_rules.c.id == rule_id)

    # --- per-member counters ---------------------------------------------------------------

    def usage(
        self, member_id: int, keys: Iterable[tuple[int, str, str]]
    ) -> dict[tuple[int, str, str], tuple[int, int]]:
        """(points, times) per (rule id, period, period key); missing keys are absent."""
        wanted = list(keys)
        if not wanted:
            return {}
        u = rule_usage.c
        stmt = select(u.rule_id, u.period, u.period_key, u.points, u.times).where(
            u.tenant_id == self.tenant_id,
            u.member_id == member_id,
            tuple_(u.rule_id, u.period, u.period_key).in_(wanted),
        )
        return {(r[0], r[1], r[2]): (r[3], r[4]) for r in self.conn.execute(stmt)}

    def add_usage(
        self, member_id: int, rule_id: int, period: str, period_key: str, points: int, times: int
    ) -> None:
        key = {
            "tenant_id": self.tenant_id,
            "member_id": member_id,
            "rule_id": rule_id,
            "period": period,
            "period_key": period_key,
        }
        if insert_row_if_absent(self.conn, rule_usage, {**key, "points": points, "times": times}):
            return
        u = rule_usage.c
        self.conn.execute(
            update(rule_usage)
            .where(*(u[name] == value for name, value in key.items()))
            .values(points=u.points + points, times=u.times + times)
        )

    def budgets_spent(self, rule_ids: Iterable[int], *, lock: bool = True) -> dict[int, int]:
        """Points each rule's budget has given; rows are locked so two events cannot overspend.

        ``FOR UPDATE`` locks only rows that exist, so every budget has its counter row from
        the moment the rule is saved (``ensure_budget``). A rule saved before that rule held
        gets its row here, on first use: the insert waits for a concurrent insert of the same
        row to finish, and the locking read that follows then waits for its transaction.
        """
        ids = sorted(set(rule_ids))
        if not ids:
            return {}
        stmt = (
            select(rule_budgets.c.rule_id, rule_budgets.c.spent)
            .where(rule_budgets.c.tenant_id == self.tenant_id, rule_budgets.c.rule_id.in_(ids))
            .order_by(rule_budgets.c.rule_id)
        )
        if lock and self._lock:
            stmt = stmt.with_for_update()
        spent = {int(r[0]): int(r[1]) for r in self.conn.execute(stmt)}
        missing = [rule_id for rule_id in ids if rule_id not in spent]
        if not lock or not missing:
            return spent
        for rule_id in missing:
            self.ensure_budget(rule_id)
        return {int(r[0]): int(r[1]) for r in self.conn.execute(stmt)}

    def ensure_budget(self, rule_id: int) -> None:
        """The rule's budget counter row (spent 0) unless it has one already."""
        row = {"tenant_id": self.tenant_id, "rule_id": rule_id, "spent": 0}
        insert_row_if_absent(self.conn, rule_budgets, row)

    def spend_budget(self, rule_id: int, points: int) -> None:
        row = {"tenant_id": self.tenant_id, "rule_id": rule_id, "spent": points}
        if insert_row_if_absent(self.conn, rule_budgets, row):
            return
        self.conn.execute(
            update(rule_budgets)
            .where(rule_budgets.c.tenant_id == self.tenant_id, rule_budgets.c.rule_id == rule_id)
            .values(spent=rule_budgets.c.spent + points)
        )

    def stamps(self, member_id: int, rule_ids: Iterable[int]) -> dict[int, int]:
        ids = sorted(set(rule_ids))
        if not ids:
            return {}
        s = rule_stamps.c
        stmt = select(s.rule_id, s.stamps).where(
            s.tenant_id == self.tenant_id, s.member_id == member_id, s.rule_id.in_(ids)
        )
        return {int(r[0]): int(r[1]) for r in self.conn.execute(stmt)}

    def set_stamps(
        self, member_id: int, rule_id: int, stamps: int, completed: int, now: datetime
    ) -> None:
        key = {"tenant_id": self.tenant_id, "member_id": member_id, "rule_id": rule_id}
        row = {**key, "stamps": stamps, "cards_completed": completed, "updated_at": now}
        if insert_row_if_absent(self.conn, rule_stamps, row):
            return
        s = rule_stamps.c
        self.conn.execute(
            update(rule_stamps)
            .where(*(s[name] == value for name, value in key.items()))
            .values(stamps=stamps, cards_completed=s.cards_completed + completed, updated_at=now)
        )

    def member_stamps(self, member_id: int) -> list[RowMapping]:
        s = rule_stamps.c
        stmt = (
            select(s.rule_id, s.stamps, s.cards_completed)
            .where(s.tenant_id == self.tenant_id, s.member_id == member_id)
            .order_by(s.rule_id)
        )
        return list(self.conn.execute(stmt).mappings())

    # --- failures and birthdays ------------------------------------------------------------

    def record_failure(
        self,
        rule_id: int,
        version: int,
        event_pk: int | None,
        event_type: str,
        error: str,
        now: datetime,
    ) -> None:
        self.conn.execute(
            rule_failures.insert().values(
                tenant_id=self.tenant_id,
                rule_id=rule_id,
                rule_version=version,
                event_pk=event_pk,
                event_type=event_type,
                error=error[:500],
                created_at=now,
            )
        )

    def failures(self, rule_id: int, limit: int = 20) -> list[RowMapping]:
        f = rule_failures.c
        stmt = (
            select(f.rule_version, f.event_type, f.error, f.created_at)
            .where(f.tenant_id == self.tenant_id, f.rule_id == rule_id)
            .order_by(f.id.desc())
            .limit(limit)
        )
        return list(self.conn.execute(stmt).mappings())

    def birthday_changed_on(self, member_id: int) -> date | None:
        b = birthday_changes.c
        stmt = select(b.changed_on).where(b.tenant_id == self.tenant_id, b.member_id == member_id)
        value = self.conn.execute(stmt).scalar()
        return value if isinstance(value, date) else None

    def member_order_count(self, member_id: int) -> int:
        stmt = select(func.count()).where(
            orders.c.tenant_id == self.tenant_id, orders.c.member_id == member_id
        )
        return int(self.conn.execute(stmt).scalar_one())


def tenants_with_rules_on(conn: Connection, trigger: str, tenant_id: int | None) -> list[int]:
    """Tenants with a rule (not deleted) on ``trigger``; cross-tenant, for daily jobs."""
    stmt = (
        select(earning_rules.c.tenant_id)
        .where(earning_rules.c.trigger == trigger, earning_rules.c.deleted_at.is_(None))
        .distinct()
        .order_by(earning_rules.c.tenant_id)
    )
    if tenant_id is not None:
        stmt = stmt.where(earning_rules.c.tenant_id == tenant_id)
    return [int(row[0]) for row in conn.execute(stmt)]


def members_born_on(
    conn: Connection, tenant_id: int, days: Iterable[tuple[int, int]]
) -> list[RowMapping]:
    """Active members whose birthday falls on any (month, day) given, with when it changed."""
    wanted = sorted(set(days))
    if not wanted:
        return []
    m, b = members.c, birthday_changes.c
    month, day = extract("month", m.birthday), extract("day", m.birthday)
    stmt = (
        select(m.id, m.external_id, m.birthday, b.changed_on)
        .select_from(
            members.outerjoin(
                birthday_changes,
                and_(b.tenant_id == m.tenant_id, b.member_id == m.id),
            )
        )
        .where(
            m.tenant_id == tenant_id,
            m.status == "active",
            m.birthday.is_not(None),
            or_(*(and_(month == mm, day == dd) for mm, dd in wanted)),
        )
        .order_by(m.id)
    )
    return list(conn.execute(stmt).mappings())
