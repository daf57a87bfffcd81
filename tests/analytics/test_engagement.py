"""Engagement figures on frames: 15-minute slots of UTC time become exact local days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from loyalty.analytics.engagement import nps_counts, with_days
from loyalty.analytics.kpis import Granularity, Period


def slot(at: datetime) -> int:
    return int(at.timestamp()) // 900


def test_slots_become_local_days_across_offsets_and_a_dst_change() -> None:
    frame = pl.DataFrame(
        {
            "slot": [
                slot(datetime(2026, 3, 28, 22, 45, tzinfo=UTC)),  # 23:45 CET, 28 March
                slot(datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),  # 00:00 CET, 29 March
                slot(datetime(2026, 3, 29, 21, 45, tzinfo=UTC)),  # 23:45 CEST, 29 March
                slot(datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),  # 00:00 CEST, 30 March
            ]
        }
    )
    assert with_days(frame, "Europe/Warsaw")["day"].to_list() == [
        date(2026, 3, 28),
        date(2026, 3, 29),
        date(2026, 3, 29),
        date(2026, 3, 30),
    ]
    kolkata = pl.DataFrame(
        {
            "slot": [
                slot(datetime(2026, 1, 1, 18, 15, tzinfo=UTC)),
                slot(datetime(2026, 1, 1, 18, 30, tzinfo=UTC)),
            ]
        }
    )
    assert with_days(kolkata, "Asia/Kolkata")["day"].to_list() == [
        date(2026, 1, 1),  # 23:45 at +05:30
        date(2026, 1, 2),
    ]


def test_nps_counts_split_scores_at_the_given_thresholds_and_fill_empty_buckets() -> None:
    scores = pl.DataFrame(
        {
            "day": [date(2026, 1, 5)] * 4 + [date(2026, 3, 1)],
            "segment": [None, None, None, "vip", None],
            "score": [9, 8, 6, 10, 7],
            "responses": [2, 1, 3, 1, 1],
        },
        schema_overrides={"segment": pl.String},
    )
    frame = nps_counts(scores, Period(date(2026, 1, 1), date(2026, 2, 28)), Granularity.MONTH, 9, 7)
    assert frame.rows() == [
        (date(2026, 1, 1), None, 6, 2, 1, 3),
        (date(2026, 2, 1), None, 0, 0, 0, 0),
        (date(2026, 1, 1), "vip", 1, 1, 0, 0),
        (date(2026, 2, 1), "vip", 0, 0, 0, 0),
    ]
