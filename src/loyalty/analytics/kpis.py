"""Programme KPIs on Polars frames: sums and counts per period, group or cohort.

Inputs are plain frames built by the services from the store: a *sales* frame (one row per
counted order: ``customer``, ``day`` in the tenant's time zone, ``net`` in minor currency units,
``group`` such as ``member``/``non_member``), a *members* frame (``joined_day``) and a *points*
frame (ledger ``kind``, ``points``, ``day``). Money stays in integer minor units here, so every
sum is exact; the services turn sums into decimals and ratios. Formulas: docs/analytics.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import polars as pl


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, starting on Monday
    MONTH = "month"


_EVERY = {Granularity.DAY: "1d", Granularity.WEEK: "1w", Granularity.MONTH: "1mo"}


@dataclass(frozen=True, slots=True)
class Period:
    """Local calendar days ``first`` to ``last``, both included."""

    first: date
    last: date


def local_day(epoch_seconds: str, timezone: str) -> pl.Expr:
    """The calendar day, in ``timezone``, of a column of UTC epoch seconds."""
    utc = pl.from_epoch(pl.col(epoch_seconds), time_unit="s").dt.replace_time_zone("UTC")
    return utc.dt.convert_time_zone(timezone).dt.date()


def bucket(day: pl.Expr, granularity: Granularity) -> pl.Expr:
    """The first day of the day/week/month a day falls in."""
    return day.dt.truncate(_EVERY[granularity])


def bucket_starts(period: Period, granularity: Granularity) -> pl.DataFrame:
    """Every bucket that overlaps the period, in order (empty buckets included)."""
    first = pl.select(bucket(pl.lit(period.first), granularity)).item()
    days = pl.date_range(first, period.last, _EVERY[granularity], eager=True)
    return pl.DataFrame({"period": days})


def within(frame: pl.DataFrame, period: Period, column: str = "day") -> pl.DataFrame:
    return frame.filter(pl.col(column).is_between(period.first, period.last))


def _on_buckets(
    totals: pl.DataFrame, period: Period, granularity: Granularity, columns: list[str]
) -> pl.DataFrame:
    grid = bucket_starts(period, granularity)
    joined = grid.join(totals, on="period", how="left").sort("period")
    return joined.with_columns(pl.col(c).fill_null(0) for c in columns)


def members_over_time(
    members: pl.DataFrame, sales: pl.DataFrame, period: Period, granularity: Granularity
) -> pl.DataFrame:
    """Per bucket: members enrolled in it, members enrolled by its end, and active members
    (members with at least one counted order in the bucket)."""
    enrolled_before = members.filter(pl.col("joined_day") < period.first).height
    enrolled = (
        within(members, period, "joined_day")
        .group_by(bucket(pl.col("joined_day"), granularity).alias("period"))
        .agg(pl.len().alias("enrolled"))
    )
    active = (
        within(sales.filter(pl.col("member_id").is_not_null()), period)
        .group_by(bucket(pl.col("day"), granularity).alias("period"))
        .agg(pl.col("member_id").n_unique().alias("active"))
    )
    frame = _on_buckets(
        enrolled.join(active, on="period", how="full", coalesce=True),
        period,
        granularity,
        ["enrolled", "active"],
    )
    total = pl.col("enrolled").cum_sum() + enrolled_before
    return frame.select(
        "period",
        pl.col("enrolled").cast(pl.Int64),
        total.cast(pl.Int64).alias("enrolled_total"),
        pl.col("active").cast(pl.Int64),
    )


def value_by_group(sales: pl.DataFrame, period: Period) -> pl.DataFrame:
    """Per group: customers, orders, customers with two or more orders, revenue."""
    per_customer = (
        within(sales, period)
        .group_by("group", "customer")
        .agg(pl.len().alias("orders"), pl.col("net").sum().alias("revenue"))
    )
    return (
        per_customer.group_by("group")
        .agg(
            pl.len().alias("customers"),
            pl.col("orders").sum().cast(pl.Int64),
            (pl.col("orders") >= 2).sum().cast(pl.Int64).alias("repeat_customers"),
            pl.col("revenue").sum().cast(pl.Int64),
        )
        .with_columns(pl.col("customers").cast(pl.Int64))
        .sort("group")
    )


def revenue_over_time(
    sales: pl.DataFrame, period: Period, granularity: Granularity
) -> pl.DataFrame:
    """Per bucket: orders and revenue in total and from members."""
    is_member = pl.col("group") == "member"
    totals = (
        within(sales, period)
        .group_by(bucket(pl.col("day"), granularity).alias("period"))
        .agg(
            pl.len().cast(pl.Int64).alias("orders"),
            pl.col("net").sum().cast(pl.Int64).alias("revenue"),
            is_member.sum().cast(pl.Int64).alias("member_orders"),
            pl.col("net").filter(is_member).sum().cast(pl.Int64).alias("member_revenue"),
        )
    )
    columns = ["orders", "revenue", "member_orders", "member_revenue"]
    return _on_buckets(totals, period, granularity, columns)


def retention_cohorts(sales: pl.DataFrame, period: Period) -> pl.DataFrame:
    """Members by the month of their first order ever (the cohort) and, for each month since
    (0 = the cohort's month) up to the period's last month, how many of them ordered in it.
    Cohorts whose month starts within the period are kept."""
    month_index = pl.col("day").dt.year() * 12 + pl.col("day").dt.month() - 1
    orders = sales.filter(pl.col("member_id").is_not_null()).select(
        "member_id", "day", month_index.alias("month")
    )
    first = orders.group_by("member_id").agg(
        pl.col("month").min().alias("cohort_month"), pl.col("day").min().alias("first_day")
    )
    last_month = period.last.year * 12 + period.last.month - 1
    first = first.filter(
        pl.col("cohort_month").is_between(
            period.first.year * 12 + period.first.month - 1, last_month
        )
    )
    sizes = first.group_by("cohort_month").agg(pl.len().cast(pl.Int64).alias("cohort_size"))
    grid = sizes.with_columns(
        pl.int_ranges(0, last_month - pl.col("cohort_month") + 1).alias("months_since")
    ).explode("months_since")
    active = (
        orders.filter(pl.col("month") <= last_month)
        .unique(["member_id", "month"])
        .join(first, on="member_id")
        .group_by("cohort_month", (pl.col("month") - pl.col("cohort_month")).alias("months_since"))
        .agg(pl.len().cast(pl.Int64).alias("active"))
    )
    year, month = pl.col("cohort_month") // 12, pl.col("cohort_month") % 12 + 1
    return (
        grid.join(active, on=["cohort_month", "months_since"], how="left")
        .sort("cohort_month", "months_since")
        .select(
            pl.date(year, month, 1).alias("cohort"),
            pl.col("months_since").cast(pl.Int64),
            "cohort_size",
            pl.col("active").fill_null(0),
        )
    )


def before_and_after(sales: pl.DataFrame, launch: date, period: Period) -> pl.DataFrame:
    """Orders, customers and revenue before the launch day and from it on, within the period,
    with the number of days each side covers (so rates per day can be compared)."""
    rows = []
    sides = (
        ("before", Period(period.first, min(period.last, _day_before(launch)))),
        ("after", Period(max(period.first, launch), period.last)),
    )
    for name, side in sides:
        days = max((side.last - side.first).days + 1, 0)
        part = within(sales, side) if days else sales.clear()
        rows.append(
            {
                "side": name,
                "days": days,
                "customers": part["customer"].n_unique(),
                "orders": part.height,
                "revenue": int(part["net"].sum() or 0),
            }
        )
    return pl.DataFrame(rows, schema={**_SIDE_SCHEMA})


_SIDE_SCHEMA = {
    "side": pl.String,
    "days": pl.Int64,
    "customers": pl.Int64,
    "orders": pl.Int64,
    "revenue": pl.Int64,
}


def _day_before(day: date) -> date:
    return date.fromordinal(day.toordinal() - 1)


# Ledger kinds as analytics sees them: points issued, taken back by refunds, redeemed, expired.
POINT_FLOWS = {"earn": "issued", "reverse": "reversed", "redeem": "redeemed", "expire": "expired"}


def points_over_time(
    points: pl.DataFrame, period: Period, granularity: Granularity
) -> pl.DataFrame:
    """Per bucket: points issued, reversed, redeemed and expired (all as positive numbers)."""
    flows = list(POINT_FLOWS.values())
    totals = (
        within(points, period)
        .group_by(bucket(pl.col("day"), granularity).alias("period"))
        .agg(_flow_sum(kind).alias(flow) for kind, flow in POINT_FLOWS.items())
    )
    return _on_buckets(totals.select("period", *flows), period, granularity, flows)


def _flow_sum(kind: str) -> pl.Expr:
    return pl.col("points").filter(pl.col("kind") == kind).abs().sum().cast(pl.Int64)
