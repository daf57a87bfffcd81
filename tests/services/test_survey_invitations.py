"""Post-purchase survey invitations: due orders only, once each, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from loyalty.services import events, surveys
from loyalty.services.survey_invitations import invite_due
from loyalty.store import tables
from tests.builders import cancel_json, order_paid_json
from tests.builders import event as to_event
from tests.conftest import NOW, Shop


def pay(shop: Shop, order: str, member: str, at: datetime) -> None:
    body = order_paid_json(f"e-{order}", member, order, [("A", 1, "10.00")], at)
    events.ingest(shop.db, shop.ctx, to_event(body), at)


def requested(shop: Shop) -> list[tuple[str, str]]:
    o = tables.outbox_events
    with shop.db.read(shop.tenant_id) as uow:
        rows = uow.conn.execute(
            select(o.c.member_external_id, o.c.payload)
            .where(o.c.tenant_id == shop.tenant_id, o.c.type == "survey.requested")
            .order_by(o.c.id)
        ).all()
    return [(member, payload["order_id"]) for member, payload in rows]


def test_orders_are_invited_once_after_the_delay(shop: Shop) -> None:
    # given a post-purchase survey that asks three days after payment
    pay(shop, "o0", "carol", NOW - timedelta(days=1))  # before the survey existed
    with shop.db.transaction(shop.tenant_id) as uow:
        survey = surveys.create_survey(
            uow,
            {"kind": "csat", "question": "How was it?", "trigger": "order", "delay_days": 3},
            NOW,
        )
    pay(shop, "o1", "alice", NOW + timedelta(hours=1))
    pay(shop, "o2", "bob", NOW + timedelta(days=2))
    pay(shop, "o3", "dave", NOW + timedelta(hours=1))
    events.ingest(
        shop.db, shop.ctx, to_event(cancel_json("c3", "o3", NOW + timedelta(hours=2))), NOW
    )
    pay(shop, "o4", "erin", NOW + timedelta(hours=1))
    with shop.db.transaction(shop.tenant_id) as uow:
        answer = {"id": "r4", "member": "erin", "score": 5, "order_id": "o4"}
        surveys.answer(uow, survey["id"], answer, "hash", NOW + timedelta(hours=3))
    # when the job runs three days and two hours later, only alice's order is due
    later = NOW + timedelta(days=3, hours=2)
    assert invite_due(shop.db, later, shop.tenant_id) == 1
    assert requested(shop) == [("alice", "o1")]
    # then running it again invites nobody twice
    assert invite_due(shop.db, later, shop.tenant_id) == 0
    # and bob's order follows when its delay has passed
    assert invite_due(shop.db, NOW + timedelta(days=6), shop.tenant_id) == 1
    assert requested(shop) == [("alice", "o1"), ("bob", "o2")]


def test_an_inactive_survey_invites_nobody(shop: Shop) -> None:
    with shop.db.transaction(shop.tenant_id) as uow:
        survey = surveys.create_survey(
            uow, {"kind": "nps", "question": "Q", "trigger": "order", "active": False}, NOW
        )
        assert survey["delay_days"] == 0
    pay(shop, "o1", "alice", NOW + timedelta(hours=1))
    assert invite_due(shop.db, NOW + timedelta(days=1), shop.tenant_id) == 0
