"""The daily ``member.birthday`` events, raised in each tenant's time zone.

Only tenants with a rule on ``member.birthday`` are looked at. A member whose birthday is
today (tenant-local; 29 February counts on 28 February in common years), or was at most
``CATCH_UP_DAYS`` ago when the job was down, and whose birthday did not change within 30 days
before it, gets one event through the normal inbox. Its id is ``birthday:<member>:<year>``, so
however often the job runs, a member earns at most once a year.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from loyalty.domain.errors import DomainError
from loyalty.domain.events import ActionPerformed, InboundEvent, MemberRef
from loyalty.domain.rules import birthday_bonus_due, birthday_in
from loyalty.services import events
from loyalty.services.program import load_context
from loyalty.store import rules as rule_sql
from loyalty.store.uow import Database

BIRTHDAY = "member.birthday"
CATCH_UP_DAYS = 3
SOURCE = "system"


def raise_birthdays(db: Database, now: datetime, tenant_id: int | None = None) -> int:
    """Process due birthday events for every tenant (or one); returns how many were new."""
    with db.engine.connect() as conn:
        tenants = rule_sql.tenants_with_rules_on(conn, BIRTHDAY, tenant_id)
    return sum(_tenant(db, tenant, now) for tenant in tenants)


def _tenant(db: Database, tenant_id: int, now: datetime) -> int:
    with db.read(tenant_id) as uow:
        ctx = load_context(uow, "job:birthdays")
    today = now.astimezone(ctx.timezone).date()
    with db.engine.connect() as conn:
        candidates = rule_sql.members_born_on(conn, tenant_id, _calendar_days(today))
    raised = 0
    for member in candidates:
        day = _celebrated(member["birthday"], member["changed_on"], today)
        if day is None:
            continue
        event = _event(member["external_id"], member["birthday"], day, now)
        try:
            result = db.run(tenant_id, partial(events.process, ctx=ctx, event=event, now=now))
        except DomainError:  # e.g. the birthday changed since this year's event: keep the first
            continue
        raised += 0 if result.replayed else 1
    return raised


def _calendar_days(today: date) -> list[tuple[int, int]]:
    """(month, day) pairs a due birthday can have: the catch-up window, plus 29 February
    whenever 28 February of a common year is in it."""
    out = []
    for back in range(CATCH_UP_DAYS + 1):
        day = today - timedelta(days=back)
        out.append((day.month, day.day))
        if (day.month, day.day) == (2, 28) and birthday_in(date(2000, 2, 29), day.year) == day:
            out.append((2, 29))
    return out


def _celebrated(birthday: date, changed_on: date | None, today: date) -> date | None:
    if not birthday_bonus_due(birthday, changed_on, today, catch_up_days=CATCH_UP_DAYS):
        return None
    for year in (today.year, today.year - 1):
        day = birthday_in(birthday, year)
        if day <= today <= day + timedelta(days=CATCH_UP_DAYS):
            return day
    return None  # pragma: no cover - birthday_bonus_due said it is due


def _event(external_id: str, birthday: date, day: date, now: datetime) -> InboundEvent:
    data: dict[str, Any] = {"birthday": birthday.isoformat(), "celebrated_on": day.isoformat()}
    text = f"{BIRTHDAY}|{external_id}|{day.year}|{birthday.isoformat()}"
    return InboundEvent(
        source=SOURCE,
        event_id=f"birthday:{external_id}:{day.year}",
        type=BIRTHDAY,
        occurred_at=now,
        member=MemberRef(external_id),
        payload=ActionPerformed(data),
        body_hash=hashlib.sha256(text.encode()).hexdigest(),
    )
