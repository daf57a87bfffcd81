"""Promotions as data: create, read, change, delete; and the per-tenant catalogue checkouts use.

The catalogue keeps parsed promotions in memory per tenant. Every request reads the versions
of the tenant's active promotions (one small query, which it needs anyway for the usage
counters) and reparses only when they differ, so a change made by any process is seen by the
next request, and the hot path parses no JSON.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import RowMapping

from loyalty.domain.errors import CodeTaken, PromotionExists, PromotionNotFound
from loyalty.domain.money import quantum
from loyalty.domain.promotions import (
    InvalidPromotion,
    Promotion,
    PromotionLimits,
    PromotionSet,
    Trigger,
)
from loyalty.services.expressions import check_expression
from loyalty.store.uow import UnitOfWork

_EXTRA = ("active", "limits")  # fields of the resource that are not promotion data
_READ_ONLY = ("version", "usage", "created_at", "updated_at")


@dataclass(frozen=True, slots=True)
class Entry:
    """One active promotion as the catalogue holds it."""

    pk: int
    promotion: Promotion
    limits: PromotionLimits


@dataclass(frozen=True, slots=True)
class Catalogue:
    versions: dict[int, int]
    entries: dict[int, Entry]  # by pk
    promotions: tuple[Promotion, ...]
    by_id: dict[str, Entry]
    prepared: PromotionSet  # evaluation order and the prefilter index, built once per change
    limited: frozenset[int]  # pks of the promotions with usage limits: those need counters


_cache: dict[tuple[str, int], Catalogue] = {}
_cache_lock = threading.Lock()


def forget(tenant_id: int) -> None:
    with _cache_lock:
        for key in [k for k in _cache if k[1] == tenant_id]:
            _cache.pop(key, None)


Counters = dict[int, tuple[int, Decimal, int, Decimal]]


def catalogue(uow: UnitOfWork) -> tuple[Catalogue, Counters]:
    """The tenant's active promotions and their counters,
    pk -> (uses, budget spent, uses held by open checkouts, budget held by them)."""
    states = uow.promotions.states()
    versions = {row[0]: row[1] for row in states}
    cached = _cache.get(uow.cache_key)
    if cached is None or cached.versions != versions:
        cached = _load(uow)
        with _cache_lock:
            _cache[uow.cache_key] = cached
    limited = cached.limited  # only limited promotions' counters are read: convert only theirs
    counters = {
        row[0]: (row[2], Decimal(row[3]), row[4], Decimal(row[5]))
        for row in states
        if row[0] in limited
    }
    return cached, counters


def _load(uow: UnitOfWork) -> Catalogue:
    entries = {}
    for row in uow.promotions.active():
        entries[row["id"]] = Entry(row["id"], Promotion.from_dict(row["data"]), _limits(row))
    promotions = tuple(e.promotion for e in entries.values())
    return Catalogue(
        versions={pk: e.promotion.version for pk, e in entries.items()},
        entries=entries,
        promotions=promotions,
        by_id={e.promotion.id: e for e in entries.values()},
        prepared=PromotionSet(promotions),
        limited=frozenset(pk for pk, e in entries.items() if e.limits.limited),
    )


def _limits(row: RowMapping) -> PromotionLimits:
    return PromotionLimits(
        uses=row["usage_limit"],
        uses_per_member=row["usage_limit_per_member"],
        budget=row["budget"],
        code_uses=row["code_uses"],
    )


# --- commands ---------------------------------------------------------------------------------


def create(uow: UnitOfWork, data: dict[str, Any], actor: str, now: datetime) -> dict[str, Any]:
    promotion, limits, active = _validated({**data, "version": 1}, version=1)
    if uow.promotions.exists(promotion.id):
        raise PromotionExists(f"a promotion '{promotion.id}' exists already", field="id")
    pk = uow.promotions.add(
        {
            "promotion_id": promotion.id,
            "created_at": now,
            **_columns(promotion, limits, active, now),
        }
    )
    _store_codes(uow, pk, promotion, limits)
    uow.audit(actor, "promotion.created", promotion.id, promotion.to_dict(), now)
    return view(_require(uow, promotion.id), uow)


def update(
    uow: UnitOfWork, promotion_id: str, changes: dict[str, Any], actor: str, now: datetime
) -> dict[str, Any]:
    """Apply a partial change; ``conditions`` and ``limits`` merge one level deep."""
    row = _require(uow, promotion_id, lock=True)
    if "id" in changes and changes["id"] != promotion_id:
        raise InvalidPromotion("the id of a promotion cannot change", field="id")
    current = _resource(row)
    merged = {**current, **changes}
    for nested in ("conditions", "limits"):
        if isinstance(changes.get(nested), dict) and isinstance(current.get(nested), dict):
            merged[nested] = {**current[nested], **changes[nested]}
    version = row["version"] + 1
    promotion, limits, active = _validated(merged, version=version)
    uow.promotions.update(row["id"], _columns(promotion, limits, active, now))
    _store_codes(uow, row["id"], promotion, limits)
    uow.audit(actor, "promotion.updated", promotion_id, promotion.to_dict(), now)
    return view(_require(uow, promotion_id), uow)


def delete(uow: UnitOfWork, promotion_id: str, actor: str, now: datetime) -> None:
    row = _require(uow, promotion_id, lock=True)
    uow.promotions.remove_codes(row["id"])
    uow.promotions.now_deleted(row["id"], now)
    uow.promotions.update(row["id"], {"version": row["version"] + 1})
    uow.audit(actor, "promotion.deleted", promotion_id, None, now)


def get(uow: UnitOfWork, promotion_id: str) -> dict[str, Any]:
    return view(_require(uow, promotion_id), uow)


def page(uow: UnitOfWork, after: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    rows = uow.promotions.page(after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return [view(row, uow) for row in rows], rows[-1]["id"] if more and rows else None


# --- helpers ----------------------------------------------------------------------------------


def _require(uow: UnitOfWork, promotion_id: str, *, lock: bool = False) -> RowMapping:
    row = uow.promotions.get(promotion_id, lock=lock)
    if row is None:
        raise PromotionNotFound(f"no promotion '{promotion_id}'", field="promotion_id")
    return row


def _validated(data: dict[str, Any], *, version: int) -> tuple[Promotion, PromotionLimits, bool]:
    for name in _READ_ONLY:
        data.pop(name, None)
    active = data.pop("active", True)
    if not isinstance(active, bool):
        raise InvalidPromotion("must be true or false", field="active")
    raw_limits = data.pop("limits", None)
    try:
        limits = PromotionLimits() if raw_limits is None else PromotionLimits.from_dict(raw_limits)
    except InvalidPromotion as exc:
        field = f"limits.{exc.field}" if exc.field else "limits"
        raise InvalidPromotion(exc.detail, field=field) from None
    promotion = Promotion.from_dict({**data, "version": version})
    check_expression(promotion.conditions.expression)
    _check_limits(promotion, limits)
    return promotion, limits, active


def _check_limits(promotion: Promotion, limits: PromotionLimits) -> None:
    if limits.budget is not None:
        if promotion.currency is None:
            raise InvalidPromotion("a budget needs the promotion's currency", field="limits.budget")
        if limits.budget != limits.budget.quantize(quantum(promotion.currency)):
            raise InvalidPromotion(
                f"has more decimals than {promotion.currency} allows", field="limits.budget"
            )
    if limits.code_uses is not None and promotion.trigger is not Trigger.CODE:
        raise InvalidPromotion("only a code promotion has code uses", field="limits.code_uses")
    if limits.code_uses is not None and not promotion.codes:
        raise InvalidPromotion("code uses need codes of its own", field="limits.code_uses")
    # A code promotion without codes of its own applies only through issued coupons
    # (reward redemptions, coupon batches, referral welcome codes).


def _columns(
    promotion: Promotion, limits: PromotionLimits, active: bool, now: datetime
) -> dict[str, Any]:
    return {
        "trigger": promotion.trigger.value,
        "data": promotion.to_dict(),
        "version": promotion.version,
        "active": 1 if active else 0,
        "usage_limit": limits.uses,
        "usage_limit_per_member": limits.uses_per_member,
        "budget": limits.budget,
        "code_uses": limits.code_uses,
        "updated_at": now,
    }


def _store_codes(uow: UnitOfWork, pk: int, promotion: Promotion, limits: PromotionLimits) -> None:
    taken = {
        code: row.promotion_pk
        for code, row in uow.promotions.codes(promotion.codes).items()
        if row.promotion_pk != pk
    }
    if taken:
        code = sorted(taken)[0]
        raise CodeTaken(
            f"code '{code}' belongs to another promotion", field="codes", taken_code=code
        )
    uow.promotions.set_codes(pk, promotion.codes, limits.code_uses)


def _resource(row: RowMapping) -> dict[str, Any]:
    data = dict(row["data"])
    data["active"] = bool(row["active"])
    data["limits"] = _limits(row).to_dict()
    return data


def view(row: RowMapping, uow: UnitOfWork) -> dict[str, Any]:
    out = _resource(row)
    codes = uow.promotions.codes(uow.promotions.codes_of(row["id"]))
    out["usage"] = {
        "uses": row["uses"],
        "budget_spent": str(row["budget_spent"]),
        "held_uses": row["reserved_uses"],
        "held_budget": str(row["reserved_budget"]),
        "codes": [
            {"code": code, "uses": r.uses, "reserved": r.reserved, "max_uses": r.max_uses}
            for code, r in sorted(codes.items())
        ],
    }
    out["created_at"] = row["created_at"].isoformat()
    out["updated_at"] = row["updated_at"].isoformat()
    return out
