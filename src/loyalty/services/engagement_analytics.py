"""Engagement figures of the programme: reward popularity, tier distribution and movements,
referral conversion and NPS. Each is defined, with its formula, in docs/analytics.md; they
answer through the same JSON/CSV/Parquet surface as the figures of ``program_analytics``.

The database does the counting (``store.analytics_figures``); Polars turns slots of UTC time
into the tenant's local days and periods (``analytics.engagement``). NPS uses the categories
and the formula of ``domain.feedback``, the same as ``GET /v1/surveys/{id}/results``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from loyalty.analytics import engagement
from loyalty.analytics.kpis import Granularity, Period
from loyalty.domain.errors import SurveyNotFound, ValidationFailed
from loyalty.domain.feedback import PASSIVE_MIN, PROMOTER_MIN, nps
from loyalty.services.context import TenantContext
from loyalty.services.program_analytics import MAX_BUCKETS, RATIO_PLACES, Report
from loyalty.store import analytics_figures as store
from loyalty.store.uow import Database

MAX_AS_OF = 100


@dataclass(frozen=True, slots=True)
class EngagementQuery:
    """What the caller asked for: local days (None = from the figure's first data / until
    today), bucket size, the days of tier snapshots, one NPS survey, NPS per segment."""

    first: date | None = None
    last: date | None = None
    granularity: Granularity = Granularity.MONTH
    as_of: tuple[date, ...] = ()
    survey: int | None = None
    by_segment: bool = False


@dataclass
class _Scope:
    conn: Connection
    ctx: TenantContext
    query: EngagementQuery
    today: date

    @property
    def tenant_id(self) -> int:
        return self.ctx.tenant_id

    @property
    def timezone(self) -> str:
        return self.ctx.timezone.key

    def start_of(self, day: date) -> datetime:
        """The first instant of a local day."""
        return datetime.combine(day, time(), self.ctx.timezone)

    def period(self, first_data: datetime | None, *, buckets: bool = True) -> Period:
        """The asked-for period; by default from the figure's first data until today."""
        query = self.query
        last = query.last or self.today
        if query.first is not None:
            first = query.first
        elif first_data is not None:
            first = min(first_data.astimezone(self.ctx.timezone).date(), last)
        else:
            first = last
        if first > last:
            raise ValidationFailed("'from' must not be after 'to'", field="from")
        every = {Granularity.DAY: 1, Granularity.WEEK: 7, Granularity.MONTH: 28}
        if buckets and (last - first).days // every[query.granularity] > MAX_BUCKETS:
            raise ValidationFailed(
                f"more than {MAX_BUCKETS} {query.granularity.value}s: ask for a shorter period"
                " or a coarser granularity",
                field="granularity",
            )
        return Period(first, last)

    def bounds(self, period: Period) -> tuple[datetime, datetime]:
        return self.start_of(period.first), self.start_of(period.last + timedelta(days=1))

    def meta(self, period: Period | None, granularity: bool) -> dict[str, Any]:
        meta: dict[str, Any] = {"timezone": self.timezone}
        if period is not None:
            meta |= {"from": period.first.isoformat(), "to": period.last.isoformat()}
        if granularity:
            meta["granularity"] = self.query.granularity.value
        return meta


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, RATIO_PLACES) if denominator > 0 else None


# --- reward popularity ---------------------------------------------------------------------


def reward_popularity(scope: _Scope) -> Report:
    period = scope.period(store.first_redemption(scope.conn, scope.tenant_id), buckets=False)
    start, end = scope.bounds(period)
    totals = store.redemption_totals(scope.conn, scope.tenant_id, start, end)
    catalogue = pl.DataFrame(
        [
            (reward_id, (data or {}).get("name"), kind)
            for reward_id, kind, data in store.reward_catalogue(scope.conn, scope.tenant_id)
        ],
        schema={"reward_id": pl.String, "name": pl.String, "type": pl.String},
        orient="row",
    )
    counts = [c for c in totals.columns if c != "reward_id"]
    frame = (
        catalogue.join(totals, on="reward_id", how="full", coalesce=True)
        .with_columns(pl.col(c).fill_null(0) for c in counts)
        .sort(["issued", "reward_id"], descending=[True, False])
    )
    all_issued = int(frame["issued"].sum())
    rows = [
        {
            **row,
            "share": _ratio(row["issued"], all_issued),
            "code_use_rate": _ratio(row["codes_used"], row["codes_issued"]),
        }
        for row in frame.select("reward_id", "name", "type", *counts).to_dicts()
    ]
    columns = {
        "reward_id": "str",
        "name": "str",
        "type": "str",
        "issued": "int",
        "cancelled": "int",
        "codes_issued": "int",
        "codes_used": "int",
        "points_spent": "int",
        "members": "int",
        "share": "ratio",
        "code_use_rate": "ratio",
    }
    meta = {**scope.meta(period, granularity=False), "redemptions": all_issued}
    return Report("rewards", columns, rows, meta)


# --- tiers ---------------------------------------------------------------------------------


def _ladder_levels(scope: _Scope) -> tuple[list[tuple[str, str]], pl.DataFrame]:
    """The levels of the ladder in force as (id, name), lowest first, and the rank of every
    tier in every ladder version (``ladder_version``, ``tier``, ``rank``)."""
    versions = store.ladders(scope.conn, scope.tenant_id)
    ranks = [
        (version, level["id"], rank)
        for version, settings in versions
        for rank, level in enumerate(settings.get("levels", []))
    ]
    frame = pl.DataFrame(
        ranks,
        schema={"ladder_version": pl.Int64, "tier": pl.String, "rank": pl.Int64},
        orient="row",
    )
    current = versions[-1][1].get("levels", []) if versions else []
    return [(level["id"], level.get("name") or level["id"]) for level in current], frame


def tier_distribution(scope: _Scope) -> Report:
    """Members per tier now, and at the end of each ``as_of`` day."""
    levels, _ = _ladder_levels(scope)
    for day in scope.query.as_of:
        if day > scope.today:
            raise ValidationFailed("'as_of' must not be after today", field="as_of")
    snapshots: list[tuple[date, str, int, dict[str, int]]] = [
        (
            scope.today,
            "now",
            store.members_now(scope.conn, scope.tenant_id),
            store.tiers_now(scope.conn, scope.tenant_id),
        )
    ]
    for day in sorted(set(scope.query.as_of)):
        end = scope.start_of(day + timedelta(days=1))
        snapshots.append(
            (
                day,
                "history",
                store.members_before(scope.conn, scope.tenant_id, end),
                store.tiers_before(scope.conn, scope.tenant_id, end),
            )
        )
    rows = []
    for day, source, total, held in snapshots:
        known = dict(levels)
        ordered = [*levels, *((t, t) for t in sorted(held) if t not in known)]
        tiered = sum(held.values())
        rows.append(_tier_row(day, source, None, None, -1, total - tiered, total))
        for rank, (tier, name) in enumerate(ordered):
            rows.append(_tier_row(day, source, tier, name, rank, held.get(tier, 0), total))
    columns = {
        "as_of": "date",
        "source": "str",
        "tier": "str",
        "name": "str",
        "rank": "int",
        "members": "int",
        "share": "ratio",
    }
    return Report("tiers", columns, rows, scope.meta(None, granularity=False))


def _tier_row(
    day: date, source: str, tier: str | None, name: str | None, rank: int, n: int, total: int
) -> dict[str, Any]:
    return {
        "as_of": day,
        "source": source,
        "tier": tier,
        "name": name,
        "rank": rank,
        "members": n,
        "share": _ratio(n, total),
    }


def tier_movements(scope: _Scope) -> Report:
    period = scope.period(store.first_tier_change(scope.conn, scope.tenant_id))
    start, end = scope.bounds(period)
    changes = engagement.with_days(
        store.tier_changes(scope.conn, scope.tenant_id, start, end), scope.timezone
    )
    _, ranks = _ladder_levels(scope)
    frame = engagement.tier_movements(changes, ranks, period, scope.query.granularity)
    rows = frame.to_dicts()
    totals = {
        direction: int(frame.filter(pl.col("direction") == direction)["changes"].sum())
        for direction in ("upgrade", "downgrade")
    }
    columns = {
        "period": "date",
        "from_tier": "str",
        "to_tier": "str",
        "direction": "str",
        "changes": "int",
    }
    meta = {**scope.meta(period, granularity=True), "totals": totals}
    return Report("tier_movements", columns, rows, meta)


# --- referrals -----------------------------------------------------------------------------


def _referral_frames(scope: _Scope) -> tuple[Period, pl.DataFrame, pl.DataFrame]:
    period = scope.period(store.first_referral(scope.conn, scope.tenant_id))
    start, end = scope.bounds(period)
    outcomes = store.referral_outcomes(scope.conn, scope.tenant_id, start, end)
    codes = store.referral_codes_made(scope.conn, scope.tenant_id, start, end)
    return (
        period,
        engagement.with_days(outcomes, scope.timezone),
        engagement.with_days(codes, scope.timezone),
    )


def _with_referral_rates(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "rejection_rate": _ratio(row["rejected"], row["attributed"]),
        "first_order_rate": _ratio(row["first_orders"], row["signed_up"]),
        "qualification_rate": _ratio(row["qualified"], row["signed_up"]),
    }


def referral_conversion(scope: _Scope) -> Report:
    period, outcomes, codes = _referral_frames(scope)
    frame = engagement.referral_conversion(outcomes, codes, period, scope.query.granularity)
    rows = [_with_referral_rates(row) for row in frame.to_dicts()]
    totals = _with_referral_rates(
        {name: int(frame[name].sum()) for name in engagement.REFERRAL_COUNTS}
    )
    whole = engagement.referral_rejections(outcomes, period, Granularity.MONTH)
    by_reason = whole.group_by("reason").agg(pl.col("rejected").sum()).sort("reason")
    totals["rejected_by_reason"] = dict(by_reason.iter_rows())
    columns = {
        "period": "date",
        **dict.fromkeys(engagement.REFERRAL_COUNTS, "int"),
        "rejection_rate": "ratio",
        "first_order_rate": "ratio",
        "qualification_rate": "ratio",
    }
    meta = {**scope.meta(period, granularity=True), "totals": totals}
    return Report("referrals", columns, rows, meta)


def referral_rejections(scope: _Scope) -> Report:
    period, outcomes, _ = _referral_frames(scope)
    frame = engagement.referral_rejections(outcomes, period, scope.query.granularity)
    columns = {"period": "date", "reason": "str", "rejected": "int"}
    return Report(
        "referral_rejections", columns, frame.to_dicts(), scope.meta(period, granularity=True)
    )


# --- NPS -----------------------------------------------------------------------------------


def net_promoter_score(scope: _Scope) -> Report:
    survey = scope.query.survey
    if survey is not None:
        kinds = store.nps_surveys(scope.conn, scope.tenant_id)
        if survey not in kinds:
            raise SurveyNotFound(f"no survey {survey}", field="survey")
        if kinds[survey] != "nps":
            raise ValidationFailed(f"survey {survey} is not an NPS survey", field="survey")
    period = scope.period(store.first_nps_response(scope.conn, scope.tenant_id, survey))
    start, end = scope.bounds(period)
    parts = [store.nps_scores(scope.conn, scope.tenant_id, start, end, survey, by_segment=False)]
    if scope.query.by_segment:
        parts.append(
            store.nps_scores(scope.conn, scope.tenant_id, start, end, survey, by_segment=True)
        )
    scores = engagement.with_days(pl.concat(parts), scope.timezone)
    frame = engagement.nps_counts(
        scores, period, scope.query.granularity, PROMOTER_MIN, PASSIVE_MIN
    )
    rows = [_with_nps(row) for row in frame.to_dicts()]
    totals = (
        frame.group_by("segment")
        .agg(pl.col(c).sum() for c in ("responses", "promoters", "passives", "detractors"))
        .sort("segment", nulls_last=False)
    )
    columns = {
        "period": "date",
        "segment": "str",
        "responses": "int",
        "promoters": "int",
        "passives": "int",
        "detractors": "int",
        "nps": "ratio",
    }
    meta = {
        **scope.meta(period, granularity=True),
        "survey": survey,
        "totals": [_with_nps(row) for row in totals.to_dicts()],
    }
    return Report("nps", columns, rows, meta)


def _with_nps(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "nps": nps(row["promoters"], row["detractors"], row["responses"])}


# --- the entry point -----------------------------------------------------------------------

FIGURES: dict[str, Callable[[_Scope], Report]] = {
    "rewards": reward_popularity,
    "tiers": tier_distribution,
    "tier_movements": tier_movements,
    "referrals": referral_conversion,
    "referral_rejections": referral_rejections,
    "nps": net_promoter_score,
}


def figure(
    db: Database, ctx: TenantContext, name: str, query: EngagementQuery, now: datetime
) -> Report:
    """Compute one engagement figure for the tenant."""
    if len(query.as_of) > MAX_AS_OF:
        raise ValidationFailed(f"at most {MAX_AS_OF} 'as_of' days", field="as_of")
    with db.read(ctx.tenant_id) as uow:
        scope = _Scope(uow.conn, ctx, query, now.astimezone(ctx.timezone).date())
        return FIGURES[name](scope)
