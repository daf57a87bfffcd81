"""Customer profiles: order facts, favourite category, RFM segment, lifecycle stage and
predicted orders, CLV and probability of being alive over the next 12 months.

Refreshed as a whole per tenant (``loyalty analytics refresh`` or the API); the models are
fitted on the tenant's own history (BG/NBD + Gamma-Gamma in days) when there are enough repeat
buyers, else the predictions stay empty rather than made up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

from loyalty.analytics.bgnbd import fit_bgnbd
from loyalty.analytics.clv import customer_lifetime_value, expected_purchases, probability_alive
from loyalty.analytics.gammagamma import fit_gamma_gamma
from loyalty.analytics.lifecycle import (
    STAGES,
    LifecycleThresholds,
    customer_activity,
    stage_codes,
    thresholds_from_intervals,
)
from loyalty.analytics.rfm import SEGMENTS, rfm_inputs, rfm_scores
from loyalty.analytics.summary import TimeUnit, summarise_transactions
from loyalty.domain.errors import NotFound
from loyalty.domain.money import quantum
from loyalty.services.context import TenantContext
from loyalty.services.program import load_context
from loyalty.services.segment_refresh import RefreshReport, refresh_segments
from loyalty.store import analytics as store
from loyalty.store.uow import Database, UnitOfWork

MIN_REPEAT_BUYERS = 20  # below this the CLV models are not worth fitting


@dataclass(frozen=True, slots=True)
class ProfileRefresh:
    members: int
    predictions: bool
    lifecycle_thresholds: dict[str, int]
    segments: tuple[RefreshReport, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "members": self.members,
            "predictions": self.predictions,
            "lifecycle_thresholds": self.lifecycle_thresholds,
            "segments": [report.to_dict() for report in self.segments],
        }


def refresh_profiles(
    db: Database, ctx: TenantContext, now: datetime, as_of: date | None = None
) -> ProfileRefresh:
    """Profiles as of today in the tenant's time zone, or as of ``as_of`` (for history that
    ended long ago, e.g. an imported archive); orders after that day are left out."""
    today = as_of or now.astimezone(ctx.timezone).date()
    with db.read(ctx.tenant_id) as uow:
        history = store.order_history(uow.conn, ctx.tenant_id, ctx.timezone)
    rows, predicted, thresholds = _profiles(history, today, ctx, now)
    with db.begin() as conn:
        store.replace_profiles(conn, ctx.tenant_id, rows)
    segments = refresh_segments(db, ctx.tenant_id, now)  # they read the new profiles
    return ProfileRefresh(len(rows), predicted, thresholds, tuple(segments))


def refresh_daily(db: Database, now: datetime, tenant_id: int | None = None) -> int:
    """The scheduler's nightly pass: refresh each tenant whose profiles were last computed
    before today (in the tenant's time zone). Returns how many tenants were refreshed."""
    with db.admin(read_only=True) as admin:
        tenant_ids = [row["id"] for row in admin.list_tenants()]
    if tenant_id is not None:
        tenant_ids = [t for t in tenant_ids if t == tenant_id]
    refreshed = 0
    for each in tenant_ids:
        with db.read(each) as uow:
            ctx = load_context(uow)
            last = store.last_refresh(uow.conn, each)
        today = now.astimezone(ctx.timezone).date()
        if last is not None and _aware(last).astimezone(ctx.timezone).date() >= today:
            continue
        refresh_profiles(db, ctx, now)
        refreshed += 1
    return refreshed


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _profiles(
    history: store.OrderHistory, today: date, ctx: TenantContext, now: datetime
) -> tuple[list[dict[str, Any]], bool, dict[str, int]]:
    if not history.member_ids:
        return [], False, {}
    ids = np.array(history.member_ids)
    days = np.array(history.days, dtype="datetime64[D]")
    amounts = np.array(history.amounts)
    rfm = rfm_inputs(ids, days, amounts, today)
    scores = rfm_scores(rfm.recency_days, rfm.frequency, rfm.monetary)
    activity = customer_activity(ids, days, today)
    thresholds = thresholds_from_intervals(ids, days, today) or LifecycleThresholds()
    stages = stage_codes(activity, thresholds)
    summary = summarise_transactions(ids, days, amounts, today, unit=TimeUnit.DAYS)
    orders_12m, alive, clv = _predictions(summary)
    first_days = _first_days(ids, days)
    order_counts = Counter(
        int(m) for m, d in zip(ids.tolist(), history.days, strict=True) if d <= today
    )
    q = quantum(ctx.program.currency)
    rows = []
    for i, member_id in enumerate(rfm.customer_id.tolist()):
        spend = Decimal(str(rfm.monetary[i])).quantize(q, ROUND_HALF_UP)
        count = order_counts[member_id]
        shares = history.category_spend.get(member_id, {})
        total = sum(shares.values(), Decimal(0))
        rows.append(
            {
                "member_id": member_id,
                "tenant_id": ctx.tenant_id,
                "orders": count,
                "purchase_days": int(rfm.frequency[i]),
                "spend": spend,
                "aov": (spend / count).quantize(q, ROUND_HALF_UP) if count else Decimal(0),
                "first_order_at": first_days[member_id],
                "last_order_at": today
                - np.timedelta64(int(rfm.recency_days[i]), "D").astype(object),
                "days_since_last_order": int(rfm.recency_days[i]),
                "favourite_category": max(shares, key=lambda c: shares[c]) if shares else None,
                "category_shares": {
                    c: round(float(v / total), 4) for c, v in sorted(shares.items()) if total > 0
                },
                "rfm_recency": int(scores.recency[i]),
                "rfm_frequency": int(scores.frequency[i]),
                "rfm_monetary": int(scores.monetary[i]),
                "rfm_segment": SEGMENTS[int(scores.segment_code[i])].value,
                "lifecycle_stage": STAGES[int(stages[i])].value,
                "predicted_orders_12m": None
                if orders_12m is None
                else round(float(orders_12m[i]), 3),
                "predicted_clv_12m": None
                if clv is None
                else Decimal(str(round(float(clv[i]), 6))).quantize(q, ROUND_HALF_UP),
                "probability_alive": None if alive is None else round(float(alive[i]), 4),
                "refreshed_at": now,
            }
        )
    limits = {
        "at_risk_after_days": thresholds.at_risk_after_days,
        "lapsed_after_days": thresholds.lapsed_after_days,
    }
    return rows, orders_12m is not None, limits


def _first_days(ids: Any, days: Any) -> dict[int, date]:
    first: dict[int, date] = {}
    for member_id, day in zip(ids.tolist(), days.astype(object).tolist(), strict=True):
        if member_id not in first or day < first[member_id]:
            first[member_id] = day
    return first


def _predictions(summary: Any) -> tuple[Any, Any, Any]:
    """(orders in 12 months, P(alive), CLV) per customer, or None where a model cannot be
    trusted: too few repeat buyers, or a fit that did not converge (e.g. Gamma-Gamma when
    every customer spends about the same, so the spend model is not identified)."""
    repeat = summary.frequency > 0
    if int(repeat.sum()) < MIN_REPEAT_BUYERS:
        return None, None, None
    f, r, t = summary.frequency, summary.recency, summary.T
    try:
        purchases = fit_bgnbd(f, r, t)
    except ValueError:
        return None, None, None
    orders_12m = expected_purchases(purchases.model, 365.25, f, r, t)
    alive = probability_alive(purchases.model, f, r, t)
    if not (purchases.converged and _finite(orders_12m, alive)):
        return None, None, None
    try:
        spend = fit_gamma_gamma(f[repeat], summary.monetary[repeat])
    except ValueError:
        return orders_12m, alive, None
    clv = customer_lifetime_value(
        purchases.model, spend.model, f, r, t, summary.monetary, unit=TimeUnit.DAYS
    )
    if not (spend.converged and _finite(clv)):
        return orders_12m, alive, None
    return orders_12m, alive, clv


def _finite(*arrays: Any) -> bool:
    return all(bool(np.isfinite(a).all()) for a in arrays)


def profile_view(uow: UnitOfWork, external_id: str) -> dict[str, Any]:
    row = store.profile_of(uow.conn, uow.tenant_id, external_id)
    if row is None:
        raise NotFound(
            f"no profile for member '{external_id}' yet (no orders, or profiles not refreshed)",
            field="external_id",
        )
    view = {k: row[k] for k in row if k not in ("member_id", "tenant_id")}
    for key in ("spend", "aov", "predicted_clv_12m"):
        view[key] = None if view[key] is None else str(view[key])
    for key in ("first_order_at", "last_order_at", "refreshed_at"):
        view[key] = None if view[key] is None else view[key].isoformat()
    return {"member": external_id, **view}


def segments_view(uow: UnitOfWork) -> dict[str, Any]:
    by_rfm, by_stage, refreshed = store.segment_counts(uow.conn, uow.tenant_id)
    return {
        "rfm_segments": {segment.value: 0 for segment in SEGMENTS} | dict(by_rfm),
        "lifecycle_stages": {stage.value: 0 for stage in STAGES} | dict(by_stage),
        "refreshed_at": refreshed.isoformat() if refreshed else None,
    }
