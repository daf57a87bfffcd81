"""Engagement figures on Polars frames: tier movements, referral conversion and NPS per period.

Inputs are counts the database has already grouped by 15-minute slot of UTC time (``slot`` =
epoch seconds // 900); a slot lies within one local day in every time zone, so summing slots
per local day is exact. Formulas: docs/analytics.md.
"""

from __future__ import annotations

import polars as pl

from loyalty.analytics.kpis import Granularity, Period, bucket, bucket_starts, local_day, within

SLOT_SECONDS = 900


def with_days(frame: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """The local day of each slot, as ``day``."""
    epoch = frame.with_columns((pl.col("slot") * SLOT_SECONDS).alias("_at"))
    return epoch.with_columns(local_day("_at", timezone).alias("day")).drop("_at")


def _bucketed(frame: pl.DataFrame, period: Period, granularity: Granularity) -> pl.DataFrame:
    return within(frame, period).with_columns(bucket(pl.col("day"), granularity).alias("period"))


# --- tiers ---------------------------------------------------------------------------------


def tier_movements(
    changes: pl.DataFrame, ranks: pl.DataFrame, period: Period, granularity: Granularity
) -> pl.DataFrame:
    """Per bucket, from-tier and to-tier: how many changes took effect, and whether each went
    up or down the ladder (``ranks``: ``ladder_version``, ``tier``, ``rank``; no tier is -1)."""
    moved = _bucketed(changes, period, granularity)
    grouped = moved.group_by("period", "from_tier", "to_tier", "ladder_version").agg(
        pl.col("changes").sum()
    )
    from_rank = ranks.rename({"tier": "from_tier", "rank": "from_rank"})
    to_rank = ranks.rename({"tier": "to_tier", "rank": "to_rank"})
    ranked = grouped.join(from_rank, on=["ladder_version", "from_tier"], how="left").join(
        to_rank, on=["ladder_version", "to_tier"], how="left"
    )
    up = pl.col("to_rank").fill_null(-1) > pl.col("from_rank").fill_null(-1)
    return (
        ranked.with_columns(
            pl.when(up).then(pl.lit("upgrade")).otherwise(pl.lit("downgrade")).alias("direction")
        )
        .group_by("period", "from_tier", "to_tier", "direction")
        .agg(pl.col("changes").sum().cast(pl.Int64))
        .sort("period", "direction", "from_tier", "to_tier", descending=[False, True, False, False])
        .select("period", "from_tier", "to_tier", "direction", "changes")
    )


# --- referrals -----------------------------------------------------------------------------

REFERRAL_COUNTS = (
    "codes_created",
    "attributed",
    "rejected",
    "signed_up",
    "first_orders",
    "qualified",
    "cancelled",
    "pending",
)


def referral_conversion(
    outcomes: pl.DataFrame, codes: pl.DataFrame, period: Period, granularity: Granularity
) -> pl.DataFrame:
    """Per bucket of attribution: referrals attributed, rejected, accepted (``signed_up``),
    with a first order, qualified (the return window passed: ``qualified`` or ``rewarded``),
    cancelled and still pending; and the referral codes made in the bucket."""
    status = pl.col("status")
    accepted = status != "rejected"
    counted = (
        _bucketed(outcomes, period, granularity)
        .group_by("period")
        .agg(
            pl.col("referrals").sum().alias("attributed"),
            pl.col("referrals").filter(~accepted).sum().alias("rejected"),
            pl.col("referrals").filter(accepted).sum().alias("signed_up"),
            pl.col("referrals")
            .filter(accepted & (pl.col("ordered") == 1))
            .sum()
            .alias("first_orders"),
            pl.col("referrals")
            .filter(status.is_in(["qualified", "rewarded"]))
            .sum()
            .alias("qualified"),
            pl.col("referrals").filter(status == "cancelled").sum().alias("cancelled"),
            pl.col("referrals").filter(status == "pending").sum().alias("pending"),
        )
    )
    made = (
        _bucketed(codes, period, granularity)
        .group_by("period")
        .agg(pl.col("codes").sum().alias("codes_created"))
    )
    grid = bucket_starts(period, granularity)
    joined = grid.join(made, on="period", how="left").join(counted, on="period", how="left")
    return joined.select(
        "period", *(pl.col(name).fill_null(0).cast(pl.Int64) for name in REFERRAL_COUNTS)
    )


def referral_rejections(
    outcomes: pl.DataFrame, period: Period, granularity: Granularity
) -> pl.DataFrame:
    """Per bucket of attribution and reason: referrals rejected (only buckets and reasons
    with at least one)."""
    rejected = _bucketed(outcomes.filter(pl.col("status") == "rejected"), period, granularity)
    return (
        rejected.group_by("period", pl.col("reason").fill_null("unknown"))
        .agg(pl.col("referrals").sum().cast(pl.Int64).alias("rejected"))
        .sort("period", "reason")
    )


# --- NPS -----------------------------------------------------------------------------------


def nps_counts(
    scores: pl.DataFrame,
    period: Period,
    granularity: Granularity,
    promoter_min: int,
    passive_min: int,
) -> pl.DataFrame:
    """Per bucket and segment (null: every response): responses, promoters (score >=
    ``promoter_min``), passives and detractors (score < ``passive_min``). Every bucket is
    listed for all responses and for every segment that has a response in the period."""
    score, n = pl.col("score"), pl.col("responses")
    counted = (
        _bucketed(scores, period, granularity)
        .group_by("period", "segment")
        .agg(
            n.sum().alias("responses"),
            n.filter(score >= promoter_min).sum().alias("promoters"),
            n.filter((score >= passive_min) & (score < promoter_min)).sum().alias("passives"),
            n.filter(score < passive_min).sum().alias("detractors"),
        )
    )
    every = pl.DataFrame({"segment": [None]}, schema={"segment": pl.String})
    segments = pl.concat([every, counted.select("segment")]).unique()
    grid = bucket_starts(period, granularity).join(segments, how="cross")
    columns = ("responses", "promoters", "passives", "detractors")
    return (
        grid.join(counted, on=["period", "segment"], how="left", nulls_equal=True)
        .select("period", "segment", *(pl.col(c).fill_null(0).cast(pl.Int64) for c in columns))
        .sort("segment", "period", nulls_last=False)
    )
