"""Programme KPIs on Polars frames: sums and counts per period, group or cohort.

Inputs are plain frames built by the services from the store: a *sales* frame (one row per
counted order: ``customer``, ``member_id`` (null for guests), ``day`` in the tenant's time
zone, ``net`` in minor currency units, ``group`` such as ``member``/``non_member``), a *members*
frame (``joined_day``) and a *points* frame (ledger ``kind``, ``points``, ``day``). Money stays
in integer minor units here, so every sum is exact; the services turn sums into decimals and
ratios. Formulas: docs/analytics.md.

``customer`` is a small non-negative code (members first, ``0 .. members - 1``, then guests),
so distinct customers are counted with ``numpy.bincount`` and bitmaps indexed by code instead
of hash group-bys, which at 10M orders and 1M customers is the difference between seconds and
tens of milliseconds. Per-bucket sums go through a day -> bucket lookup table.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import numpy as np
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


# Bitmaps of (customer, bucket) pairs up to this many cells; larger ones use a sort instead.
BITMAP_CELLS = 1 << 27
_EPOCH = date(1970, 1, 1)


class _Columns:
    """A frame's columns as numpy arrays, converted once: the figures of one request read the
    same frames again and again. Holds the frame, so its ``id`` is not reused meanwhile."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame
        self.arrays: dict[Any, Any] = {}


_COLUMNS: OrderedDict[int, _Columns] = OrderedDict()
_COLUMNS_LOCK = threading.Lock()
_COLUMNS_KEPT = 8


def _array(frame: pl.DataFrame, column: str, make: Callable[[pl.Series], Any] | None = None) -> Any:
    """``column`` of ``frame`` as a numpy array (or ``make(series)``), cached per frame."""
    with _COLUMNS_LOCK:
        held = _COLUMNS.get(id(frame))
        if held is None or held.frame is not frame:
            held = _COLUMNS[id(frame)] = _Columns(frame)
            while len(_COLUMNS) > _COLUMNS_KEPT:
                _COLUMNS.popitem(last=False)
    key = (column, make)
    if key not in held.arrays:
        series = frame[column]
        held.arrays[key] = make(series) if make else series.to_physical().to_numpy()
    return held.arrays[key]


def _days(frame: pl.DataFrame, column: str = "day") -> np.ndarray:
    """A date column as day numbers (days since 1970-01-01)."""
    days: np.ndarray = _array(frame, column)
    return days


def _number(day: date) -> int:
    return (day - _EPOCH).days


def _mask(days: np.ndarray, period: Period) -> Any:
    """Which rows fall in the period: a boolean mask, or ``slice(None)`` when all do."""
    first, last = _number(period.first), _number(period.last)
    if not days.size or (int(days.min()) >= first and int(days.max()) <= last):
        return slice(None)
    return (days >= first) & (days <= last)


def _count(selector: Any, size: int) -> int:
    return size if isinstance(selector, slice) else int(np.count_nonzero(selector))


def _buckets(period: Period, granularity: Granularity) -> tuple[pl.DataFrame, np.ndarray]:
    """The bucket grid and, for each day of the period (index = day - first), its bucket."""
    grid = bucket_starts(period, granularity)
    days = pl.date_range(period.first, period.last, "1d", eager=True)
    starts = days.dt.truncate(_EVERY[granularity]).to_physical().to_numpy()
    index = np.searchsorted(grid["period"].to_physical().to_numpy(), starts)
    return grid, index.astype(np.int64)


def _sum_by(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Exact integer sums of ``values`` per ``index`` (float bincount is exact below 2**53)."""
    if values.size and values.size * int(np.abs(values).max()) >= 1 << 53:
        out = np.zeros(size, dtype=np.int64)
        np.add.at(out, index, values)
        return out
    return np.rint(np.bincount(index, weights=values, minlength=size)).astype(np.int64)


def _distinct_pairs(codes: np.ndarray, buckets: np.ndarray, size: int) -> np.ndarray:
    """Per bucket, the number of distinct codes in it."""
    if not codes.size:
        return np.zeros(size, dtype=np.int64)
    span = int(codes.max()) + 1
    if span * size <= BITMAP_CELLS:
        seen = np.zeros(span * size, dtype=bool)
        seen[codes * size + buckets] = True
        counts: np.ndarray = seen.reshape(span, size).sum(axis=0).astype(np.int64)
        return counts
    pairs = np.unique(codes * size + buckets)
    return np.bincount(pairs % size, minlength=size).astype(np.int64)


def _codes(column: pl.Series) -> tuple[list[str], np.ndarray]:
    """Labels and a code per row (an index into the labels) of a string or enum column."""
    if not isinstance(column.dtype, pl.Enum):
        column = column.cast(pl.Enum(column.drop_nulls().unique().sort().to_list()))
    labels = list(column.dtype.categories)  # type: ignore[attr-defined]
    return labels, column.to_physical().to_numpy()


def _is_member_row(column: pl.Series) -> np.ndarray:
    return column.is_not_null().to_numpy()


def _is_member_group(column: pl.Series) -> np.ndarray:
    return (column == "member").to_numpy()


def _distinct(codes: np.ndarray) -> int:
    if not codes.size:
        return 0
    return int(np.count_nonzero(np.bincount(codes)))


def members_over_time(
    members: pl.DataFrame, sales: pl.DataFrame, period: Period, granularity: Granularity
) -> pl.DataFrame:
    """Per bucket: members enrolled in it, members enrolled by its end, and active members
    (members with at least one counted order in the bucket)."""
    grid, index = _buckets(period, granularity)
    size, first = grid.height, _number(period.first)
    joined = _days(members, "joined_day")
    enrolled_before = int((joined < first).sum())
    inside = joined[_mask(joined, period)]
    enrolled = np.bincount(index[inside - first], minlength=size).astype(np.int64)
    buyer = _array(sales, "member_id", _is_member_row)
    days = _days(sales)
    kept = _mask(days, period)
    chosen = buyer if isinstance(kept, slice) else buyer & kept
    codes = _array(sales, "customer")[chosen]
    active = _distinct_pairs(codes, index[days[chosen] - first], size)
    return grid.with_columns(
        pl.Series("enrolled", enrolled),
        pl.Series("enrolled_total", np.cumsum(enrolled) + enrolled_before),
        pl.Series("active", active),
    )


def value_by_group(sales: pl.DataFrame, period: Period) -> pl.DataFrame:
    """Per group: customers, orders, customers with two or more orders, revenue."""
    days = _days(sales)
    kept = _mask(days, period)
    labels, codes = _array(sales, "group", _codes)
    groups = codes[kept]
    customers = _array(sales, "customer")[kept]
    net = _array(sales, "net")[kept]
    rows = []
    present = np.flatnonzero(np.bincount(groups, minlength=len(labels)))
    for code, group in sorted(((int(c), labels[c]) for c in present), key=lambda g: g[1]):
        chosen = groups == code
        orders_of = np.bincount(customers[chosen])
        rows.append(
            {
                "group": group,
                "customers": int(np.count_nonzero(orders_of)),
                "orders": int(np.count_nonzero(chosen)),
                "repeat_customers": int((orders_of >= 2).sum()),
                "revenue": int(net[chosen].sum()),
            }
        )
    schema = {
        "group": pl.String,
        "customers": pl.Int64,
        "orders": pl.Int64,
        "repeat_customers": pl.Int64,
        "revenue": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


def revenue_over_time(
    sales: pl.DataFrame, period: Period, granularity: Granularity
) -> pl.DataFrame:
    """Per bucket: orders and revenue in total and from members."""
    grid, index = _buckets(period, granularity)
    days = _days(sales)
    kept = _mask(days, period)
    buckets = index[days[kept] - _number(period.first)]
    net = _array(sales, "net")[kept]
    member = _array(sales, "group", _is_member_group)[kept]
    size = grid.height
    return grid.with_columns(
        pl.Series("orders", np.bincount(buckets, minlength=size).astype(np.int64)),
        pl.Series("revenue", _sum_by(buckets, net, size)),
        pl.Series("member_orders", np.bincount(buckets[member], minlength=size).astype(np.int64)),
        pl.Series("member_revenue", _sum_by(buckets[member], net[member], size)),
    )


def retention_cohorts(sales: pl.DataFrame, period: Period) -> pl.DataFrame:
    """Members by the month of their first order ever (the cohort) and, for each month since
    (0 = the cohort's month) up to the period's last month, how many of them ordered in it.
    Cohorts whose month starts within the period are kept."""
    buyer = _array(sales, "member_id", _is_member_row)
    last_month = period.last.year * 12 + period.last.month - 1
    first_month = period.first.year * 12 + period.first.month - 1
    days = _days(sales)[buyer]
    if not days.size:
        return _cohort_rows([], [], [], [])
    low = int(days.min())
    calendar = pl.date_range(
        date.fromordinal(_EPOCH.toordinal() + low),
        date.fromordinal(_EPOCH.toordinal() + int(days.max())),
        "1d",
        eager=True,
    )
    month_of_day = (calendar.dt.year() * 12 + calendar.dt.month() - 1).to_numpy()
    months = month_of_day[days - low].astype(np.int64)
    codes = _array(sales, "customer")[buyer]
    kept = months <= last_month
    months, codes = months[kept], codes[kept]
    if not months.size:
        return _cohort_rows([], [], [], [])
    base = int(months.min())
    span_months = last_month - base + 1
    span_codes = int(codes.max()) + 1
    if span_months * span_codes > BITMAP_CELLS:
        return _retention_cohorts_sorted(sales, period)
    seen = np.zeros((span_codes, span_months), dtype=bool)
    seen[codes, months - base] = True
    has = seen.any(axis=1)
    cohort = np.argmax(seen, axis=1)  # first month with an order, per member
    member, month = np.nonzero(seen)
    matrix = np.bincount(
        cohort[member] * span_months + month, minlength=span_months * span_months
    ).reshape(span_months, span_months)
    sizes = np.bincount(cohort[has], minlength=span_months)
    rows: tuple[list[date], list[int], list[int], list[int]] = ([], [], [], [])
    for c in range(max(first_month - base, 0), span_months):
        if not sizes[c]:
            continue
        year, month_of_year = divmod(base + c, 12)
        for k in range(span_months - c):
            rows[0].append(date(year, month_of_year + 1, 1))
            rows[1].append(k)
            rows[2].append(int(sizes[c]))
            rows[3].append(int(matrix[c, c + k]))
    return _cohort_rows(*rows)


def _cohort_rows(
    cohorts: list[date], since: list[int], sizes: list[int], active: list[int]
) -> pl.DataFrame:
    return pl.DataFrame(
        {"cohort": cohorts, "months_since": since, "cohort_size": sizes, "active": active},
        schema={
            "cohort": pl.Date,
            "months_since": pl.Int64,
            "cohort_size": pl.Int64,
            "active": pl.Int64,
        },
    )


def _retention_cohorts_sorted(sales: pl.DataFrame, period: Period) -> pl.DataFrame:
    """``retention_cohorts`` with group-bys, for member x month grids too big for a bitmap."""
    month_index = pl.col("day").dt.year() * 12 + pl.col("day").dt.month() - 1
    orders = sales.filter(pl.col("member_id").is_not_null()).select(
        pl.col("customer").alias("member_id"), "day", month_index.alias("month")
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
    days = _days(sales)
    customers = _array(sales, "customer")
    net = _array(sales, "net")
    sides = (
        ("before", Period(period.first, min(period.last, _day_before(launch)))),
        ("after", Period(max(period.first, launch), period.last)),
    )
    for name, side in sides:
        length = max((side.last - side.first).days + 1, 0)
        kept = _mask(days, side) if length else np.zeros(days.size, dtype=bool)
        rows.append(
            {
                "side": name,
                "days": length,
                "customers": _distinct(customers[kept]),
                "orders": _count(kept, days.size),
                "revenue": int(net[kept].sum()),
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
    grid, index = _buckets(period, granularity)
    days = _days(points)
    kept = _mask(days, period)
    buckets = index[days[kept] - _number(period.first)]
    amounts = np.abs(_array(points, "points")[kept])
    labels, codes = _array(points, "kind", _codes)
    kinds = codes[kept]
    columns = []
    for kind, flow in POINT_FLOWS.items():
        chosen = kinds == (labels.index(kind) if kind in labels else -1)
        columns.append(pl.Series(flow, _sum_by(buckets[chosen], amounts[chosen], grid.height)))
    return grid.with_columns(columns)


def flow_totals(points: pl.DataFrame) -> dict[str, int]:
    """All-time points issued, reversed, redeemed and expired (as positive numbers)."""
    labels, codes = _array(points, "kind", _codes)
    amounts = np.abs(_array(points, "points"))
    sums = _sum_by(codes, amounts, len(labels)) if labels else np.zeros(0, dtype=np.int64)
    found = dict(zip(labels, sums.tolist(), strict=True))
    return {flow: int(found.get(kind, 0)) for kind, flow in POINT_FLOWS.items()}
