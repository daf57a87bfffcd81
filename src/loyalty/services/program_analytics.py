"""Programme analytics: is the loyalty programme paying off? Every figure is defined, with its
formula, in docs/analytics.md; the sums are exact (integer minor units) and the days are the
tenant's local calendar days.

Orders are split into *member* and *non-member* orders. A member order is an order of a member
that earned points or was paid at or after the member's enrolment; a non-member order is an
order of a member from before they enrolled without points (history loaded from the shop), or a
store guest order that no member has claimed. Grouping by tier will plug in as one more entry in
``GROUPINGS`` (a member -> tier frame joined on ``member_id``) once tiers exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from loyalty.analytics import kpis
from loyalty.analytics.kpis import Granularity, Period
from loyalty.domain.errors import ValidationFailed
from loyalty.domain.money import minor_units, quantum
from loyalty.services import program_snapshot as snapshot
from loyalty.services.context import TenantContext
from loyalty.store import program_analytics as store
from loyalty.store.uow import Database

MAX_BUCKETS = 5_000
RATIO_PLACES = 4


@dataclass(frozen=True, slots=True)
class FigureQuery:
    """What the caller asked for: the local days (None = from the first data / until today)
    and the bucket size of a time series."""

    first: date | None = None
    last: date | None = None
    granularity: Granularity = Granularity.MONTH
    group_by: str = "membership"


@dataclass
class Report:
    """One figure: its rows (column name -> kind, in order) and whole-period totals."""

    figure: str
    columns: dict[str, str]
    rows: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)


class Dataset:
    """The tenant's data as frames: from ``facts`` when given (the read model), else read from
    the store on first use."""

    def __init__(
        self, conn: Connection, ctx: TenantContext, facts: snapshot.Facts | None = None
    ) -> None:
        self.conn = conn
        self.ctx = ctx
        self.timezone = ctx.timezone.key
        self.scale = 10 ** minor_units(ctx.program.currency)
        self.facts = facts
        self.cache: dict[Any, Any] = {}  # results shared by figures of one request

    @cached_property
    def members(self) -> pl.DataFrame:
        if self.facts is not None:
            return self.facts.members
        return snapshot.read_members(self.conn, self.ctx.tenant_id, self.timezone)

    @cached_property
    def _orders(self) -> pl.DataFrame:
        if self.facts is not None:
            return self.facts.orders
        return snapshot.read_orders(
            self.conn, self.ctx.tenant_id, self.scale, self.members, self.timezone
        )

    @cached_property
    def _guests(self) -> pl.DataFrame:
        if self.facts is not None:
            return self.facts.guests
        return snapshot.read_guests(self.conn, self.ctx.tenant_id, self.scale, self.timezone)

    @cached_property
    def _ledger(self) -> pl.DataFrame:
        if self.facts is not None:
            return self.facts.ledger
        return snapshot.read_ledger(self.conn, self.ctx.tenant_id, self.timezone)

    @cached_property
    def sales(self) -> pl.DataFrame:
        """Counted orders: not cancelled and worth more than zero after refunds, plus the
        unclaimed guest orders; one row each: ``customer``, ``member_id``, ``paid_at``,
        ``net``, ``group``, ``day``. ``customer`` is a code (kpis counts distinct ones with
        bincounts): ``member_id`` minus the smallest member id, then one per guest email (or
        per guest order without an email) after the members."""
        members = self.members["member_id"]
        lowest = int(members[0]) if members.len() else 0  # members are in id order
        span = int(members[-1]) - lowest + 1 if members.len() else 0
        known = self._orders.filter(pl.col("net") > 0).select(
            (pl.col("member_id") - lowest).alias("customer"),
            "member_id",
            "paid_at",
            "net",
            "group",
            "day",
        )
        guests = self._guests.filter(pl.col("net") > 0)
        email = pl.col("email")
        emails = guests["email"].n_unique()
        guests = guests.select(
            pl.when(email.is_null())  # one customer per email, or per order without one
            .then(span + emails + pl.int_range(pl.len()))
            .otherwise(span + email.rank("dense").cast(pl.Int64) - 1)
            .cast(pl.Int64)
            .alias("customer"),
            pl.lit(None, pl.Int64).alias("member_id"),
            "paid_at",
            "net",
            pl.lit("non_member", snapshot.GROUP).alias("group"),
            "day",
        )
        return pl.concat([known, guests], how="vertical")

    @cached_property
    def points(self) -> pl.DataFrame:
        return self._ledger.select("kind", "points", "occurred_at", "day")

    def flow_totals(self) -> dict[str, int]:
        """All-time points issued, reversed, redeemed and expired (as positive numbers)."""
        return kpis.flow_totals(self.points)

    @cached_property
    def launch_day(self) -> date:
        launched = self.ctx.program.launched_at or store.tenant_created_at(
            self.conn, self.ctx.tenant_id
        )
        return launched.astimezone(self.ctx.timezone).date()

    def first_day(self) -> date | None:
        days: list[date] = [
            frame[column].min()  # type: ignore[misc]
            for frame, column in ((self.sales, "day"), (self.members, "joined_day"))
            if frame.height
        ]
        return min(days) if days else None


def period_of(data: Dataset, query: FigureQuery, now: datetime) -> Period:
    last = query.last or now.astimezone(data.ctx.timezone).date()
    first = query.first or data.first_day() or last
    if query.first is None and first > last:
        first = last
    if first > last:
        raise ValidationFailed("'from' must not be after 'to'", field="from")
    every = {Granularity.DAY: 1, Granularity.WEEK: 7, Granularity.MONTH: 28}[query.granularity]
    if (last - first).days // every > MAX_BUCKETS:
        raise ValidationFailed(
            f"more than {MAX_BUCKETS} {query.granularity.value}s: ask for a shorter period"
            " or a coarser granularity",
            field="granularity",
        )
    return Period(first, last)


# --- the figures ---------------------------------------------------------------------------


def members_over_time(data: Dataset, period: Period, query: FigureQuery) -> Report:
    frame = kpis.members_over_time(
        data.members, data.sales.filter(pl.col("group") == "member"), period, query.granularity
    )
    columns = {"period": "date", "enrolled": "int", "enrolled_total": "int", "active": "int"}
    return Report("members", columns, frame.to_dicts())


def repeat_purchase(data: Dataset, period: Period, query: FigureQuery) -> Report:
    rows = [
        {
            "group": row["group"],
            "customers": row["customers"],
            "repeat_customers": row["repeat_customers"],
            "repeat_rate": _ratio(row["repeat_customers"], row["customers"]),
        }
        for row in _by_group(data, period, query)
    ]
    columns = {
        "group": "str",
        "customers": "int",
        "repeat_customers": "int",
        "repeat_rate": "ratio",
    }
    return Report("repeat_purchase", columns, rows)


def customer_value(data: Dataset, period: Period, query: FigureQuery) -> Report:
    rows = [
        {
            "group": row["group"],
            "customers": row["customers"],
            "orders": row["orders"],
            "revenue": _money(data, row["revenue"]),
            "aov": _money_ratio(data, row["revenue"], row["orders"]),
            "purchase_frequency": _ratio(row["orders"], row["customers"]),
        }
        for row in _by_group(data, period, query)
    ]
    columns = {
        "group": "str",
        "customers": "int",
        "orders": "int",
        "revenue": "money",
        "aov": "money",
        "purchase_frequency": "ratio",
    }
    return Report("customer_value", columns, rows)


GROUPINGS: dict[str, Callable[[Dataset], pl.DataFrame]] = {
    "membership": lambda data: data.sales,
}


def _by_group(data: Dataset, period: Period, query: FigureQuery) -> list[dict[str, Any]]:
    key = ("value_by_group", query.group_by, period)
    if key not in data.cache:  # repeat purchase and customer value share it
        sales = GROUPINGS[query.group_by](data)
        data.cache[key] = kpis.value_by_group(sales, period).to_dicts()
    found = {row["group"]: row for row in data.cache[key]}
    groups = ["member", "non_member"] if query.group_by == "membership" else sorted(found)
    empty = {"customers": 0, "orders": 0, "repeat_customers": 0, "revenue": 0}
    return [{**empty, **found.get(group, {}), "group": group} for group in groups]


def revenue(data: Dataset, period: Period, query: FigureQuery) -> Report:
    frame = kpis.revenue_over_time(data.sales, period, query.granularity)
    rows = [
        {
            "period": row["period"],
            "orders": row["orders"],
            "revenue": _money(data, row["revenue"]),
            "member_orders": row["member_orders"],
            "member_revenue": _money(data, row["member_revenue"]),
            "member_revenue_share": _ratio(row["member_revenue"], row["revenue"]),
        }
        for row in frame.to_dicts()
    ]
    columns = {
        "period": "date",
        "orders": "int",
        "revenue": "money",
        "member_orders": "int",
        "member_revenue": "money",
        "member_revenue_share": "ratio",
    }
    return Report("revenue", columns, rows)


def retention_cohorts(data: Dataset, period: Period, query: FigureQuery) -> Report:
    frame = kpis.retention_cohorts(data.sales, period)
    rows = [
        {**row, "retention": _ratio(row["active"], row["cohort_size"])} for row in frame.to_dicts()
    ]
    columns = {
        "cohort": "date",
        "months_since": "int",
        "cohort_size": "int",
        "active": "int",
        "retention": "ratio",
    }
    return Report("cohorts", columns, rows)


def launch_comparison(data: Dataset, period: Period, query: FigureQuery) -> Report:
    launch = data.launch_day
    rows = []
    for row in kpis.before_and_after(data.sales, launch, period).to_dicts():
        rows.append(
            {
                "side": row["side"],
                "days": row["days"],
                "customers": row["customers"],
                "orders": row["orders"],
                "revenue": _money(data, row["revenue"]),
                "aov": _money_ratio(data, row["revenue"], row["orders"]),
                "orders_per_day": _ratio(row["orders"], row["days"]),
                "revenue_per_day": _money_ratio(data, row["revenue"], row["days"]),
            }
        )
    columns = {
        "side": "str",
        "days": "int",
        "customers": "int",
        "orders": "int",
        "revenue": "money",
        "aov": "money",
        "orders_per_day": "ratio",
        "revenue_per_day": "money",
    }
    return Report("launch", columns, rows, {"launched_on": launch.isoformat()})


def points(data: Dataset, period: Period, query: FigureQuery) -> Report:
    frame = kpis.points_over_time(data.points, period, query.granularity)
    rows = [_with_rates(row) for row in frame.to_dicts()]
    totals = _with_rates({flow: int(frame[flow].sum()) for flow in kpis.POINT_FLOWS.values()})
    columns = {
        "period": "date",
        "issued": "int",
        "reversed": "int",
        "redeemed": "int",
        "expired": "int",
        "redemption_rate": "ratio",
        "breakage_rate": "ratio",
    }
    return Report("points", columns, rows, {"totals": totals})


def _with_rates(row: dict[str, Any]) -> dict[str, Any]:
    kept = row["issued"] - row["reversed"]
    return {
        **row,
        "redemption_rate": _ratio(row["redeemed"], kept),
        "breakage_rate": _ratio(row["expired"], kept),
    }


def liability(data: Dataset, period: Period, query: FigureQuery) -> Report:
    """Outstanding points now, their money value and the IFRS 15 style liability."""
    held = store.outstanding_points(data.conn, data.ctx.tenant_id)
    outstanding = held["pending"] + held["available"]
    totals = data.flow_totals()
    settled = totals["redeemed"] + totals["expired"]
    estimated = Decimal(totals["expired"]) / settled if settled else Decimal(0)
    program = data.ctx.program
    rate = program.expected_breakage if program.expected_breakage is not None else estimated
    rate = rate.quantize(Decimal(1).scaleb(-RATIO_PLACES), ROUND_HALF_UP)
    value = program.point_value
    q = quantum(program.currency)
    row = {
        "outstanding_points": outstanding,
        "pending_points": held["pending"],
        "available_points": held["available"],
        "point_value": value,
        "expected_breakage_rate": float(rate),
        "breakage_source": "setting" if program.expected_breakage is not None else "history",
        "gross_value": None if value is None else (outstanding * value).quantize(q, ROUND_HALF_UP),
        "liability": None
        if value is None
        else (outstanding * value * (1 - rate)).quantize(q, ROUND_HALF_UP),
    }
    columns = {
        "outstanding_points": "int",
        "pending_points": "int",
        "available_points": "int",
        "point_value": "decimal",
        "expected_breakage_rate": "ratio",
        "breakage_source": "str",
        "gross_value": "money",
        "liability": "money",
    }
    meta = {"redeemed_all_time": totals["redeemed"], "expired_all_time": totals["expired"]}
    return Report("liability", columns, [row], meta)


FIGURES: dict[str, Callable[[Dataset, Period, FigureQuery], Report]] = {
    "members": members_over_time,
    "repeat_purchase": repeat_purchase,
    "cohorts": retention_cohorts,
    "customer_value": customer_value,
    "launch": launch_comparison,
    "revenue": revenue,
    "points": points,
    "liability": liability,
}


def figure(
    db: Database, ctx: TenantContext, name: str, query: FigureQuery, now: datetime
) -> Report:
    """Compute one figure for the tenant."""
    if query.group_by not in GROUPINGS:
        raise ValidationFailed(
            f"group_by must be one of: {', '.join(sorted(GROUPINGS))}", field="group_by"
        )
    with db.read(ctx.tenant_id) as uow:
        data = Dataset(uow.conn, ctx, snapshot.current(db, uow.conn, ctx))
        if name in AS_OF_NOW:
            today = now.astimezone(ctx.timezone).date()
            report = FIGURES[name](data, Period(today, today), query)
            report.meta = {**_meta(data, None, query, name), **report.meta}
            return report
        period = period_of(data, query, now)
        report = FIGURES[name](data, period, query)
        report.meta = {**_meta(data, period, query, name), **report.meta}
        return report


def all_figures(
    db: Database, ctx: TenantContext, query: FigureQuery, now: datetime
) -> list[Report]:
    """Every figure over one read of the data (what the benchmark times)."""
    with db.read(ctx.tenant_id) as uow:
        data = Dataset(uow.conn, ctx, snapshot.current(db, uow.conn, ctx))
        period = period_of(data, query, now)
        return [compute(data, period, query) for compute in FIGURES.values()]


AS_OF_NOW = {"liability"}  # figures of the present moment: no period


def _meta(data: Dataset, period: Period | None, query: FigureQuery, name: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"currency": data.ctx.program.currency, "timezone": data.timezone}
    if period is not None:
        meta |= {"from": period.first.isoformat(), "to": period.last.isoformat()}
    if name in ("members", "revenue", "points"):
        meta["granularity"] = query.granularity.value
    return meta


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, RATIO_PLACES) if denominator > 0 else None


def _money(data: Dataset, minor: int) -> Decimal:
    amount: Decimal = (Decimal(minor) / data.scale).quantize(quantum(data.ctx.program.currency))
    return amount


def _money_ratio(data: Dataset, minor: int, count: int) -> Decimal | None:
    if count <= 0:
        return None
    amount: Decimal = Decimal(minor) / data.scale / count
    return amount.quantize(quantum(data.ctx.program.currency), ROUND_HALF_UP)
