"""Post-purchase surveys: a ``survey.requested`` event for each paid order once the survey's
delay has passed, so the shop's e-mail tool (a webhook subscriber) can ask the customer.

Run by the scheduler; idempotent (an invitation row per survey and order) and catch-up safe.
Only orders paid after the survey was created are invited, never the whole history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from loyalty.store import surveys as store
from loyalty.store.uow import Database, UnitOfWork

CHUNK = 1_000


def invite_due(db: Database, now: datetime, tenant_id: int | None = None) -> int:
    """Invite every due order of every active post-purchase survey; how many were invited."""
    with db.admin(read_only=True) as admin:
        due_surveys = store.invitation_surveys(admin.conn, tenant_id)
    invited = 0
    for survey in due_surveys:
        until = now - timedelta(days=survey["delay_days"] or 0)
        while True:
            with db.transaction(survey["tenant_id"]) as uow:
                count = _invite_chunk(uow, survey, until, now)
            invited += count
            if count < CHUNK:
                break
    return invited


def _invite_chunk(uow: UnitOfWork, survey: Any, until: datetime, now: datetime) -> int:
    store.lock_survey(uow.conn, survey["id"])
    orders = store.orders_to_invite(uow.conn, survey, until, CHUNK)
    store.add_invitations(
        uow.conn,
        [
            {
                "tenant_id": uow.tenant_id,
                "survey_id": survey["id"],
                "member_id": o["member_id"],
                "order_pk": o["order_pk"],
                "created_at": now,
            }
            for o in orders
        ],
    )
    about = {"id": survey["id"], "kind": survey["kind"], "question": survey["question"]}
    uow.outbox.add_many(
        [
            (
                "survey.requested",
                o["external_id"],
                {
                    "survey": about,
                    "member": o["external_id"],
                    "order_id": o["order_id"],
                    "paid_at": o["paid_at"].isoformat(),
                },
            )
            for o in orders
        ],
        now,
    )
    return len(orders)
