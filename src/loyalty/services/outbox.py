"""What leaves the system: outbox events named after what happened (``points.earned``, ...).

Rows are written in the same transaction as the change they describe; the webhook worker
fans them out to subscriptions and delivers them after commit (``loyalty.services.webhooks``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from loyalty.store.uow import UnitOfWork

EVENT_TYPES = (
    "points.earned",
    "points.spent",
    "points.expired",
    "points.reversed",
    "points.restored",
    "points.expiring_soon",
    "member.created",
    "member.updated",
    "tier.changed",
    "membership.started",
    "membership.renewed",
    "membership.cancelled",
    "membership.expired",
    "reward.redeemed",
    "coupon.issued",
    "coupon.used",
    "referral.completed",
    "segment.entered",
    "segment.left",
    "survey.answered",
    "survey.requested",
    "reward.earned",
)

_BY_KIND = {
    "earn": "points.earned",
    "transfer_in": "points.earned",
    "redeem": "points.spent",
    "transfer_out": "points.spent",
    "reverse": "points.reversed",
    "expire": "points.expired",
    "restore": "points.restored",
}


def effect_event_type(effect: Mapping[str, Any]) -> str | None:
    kind = effect["kind"]
    if kind == "adjust":
        return "points.earned" if effect["points"] > 0 else "points.spent"
    return _BY_KIND.get(kind)


def effect_rows(
    member_external_id: str, effects: Iterable[Mapping[str, Any]], balances: Mapping[str, Any]
) -> list[tuple[str, str | None, dict[str, Any]]]:
    """One outbox row per ledger effect that the outside world has a name for."""
    rows: list[tuple[str, str | None, dict[str, Any]]] = []
    for effect in effects:
        type_ = effect_event_type(effect)
        if type_ is not None:
            payload = {
                "member": member_external_id,
                "entry": dict(effect),
                "balances": dict(balances),
            }
            rows.append((type_, member_external_id, payload))
    return rows


def emit_effects(
    uow: UnitOfWork,
    member_external_id: str,
    effects: Iterable[Mapping[str, Any]],
    balances: Mapping[str, Any],
    now: datetime,
) -> None:
    rows = effect_rows(member_external_id, effects, balances)
    if rows:
        uow.outbox.add_many(rows, now)


def emit(
    uow: UnitOfWork,
    type_: str,
    member_external_id: str | None,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    uow.outbox.add(type_, member_external_id, payload, now)
