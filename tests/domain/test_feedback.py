"""Survey scores: scales, NPS/CSAT figures checked by hand, periods."""

from __future__ import annotations

from datetime import date

import pytest

from loyalty.domain.errors import ScoreOutOfRange, ValidationFailed
from loyalty.domain.feedback import (
    Granularity,
    SurveyKind,
    check_score,
    nps,
    nps_category,
    period_label,
    period_start,
    scale_for,
    summarise,
)


def test_nps_by_hand() -> None:
    # given 10 answers: 4 promoters (9, 10, 10, 9), 3 passives (7, 8, 7), 3 detractors (0, 6, 3)
    scores = [9, 10, 10, 9, 7, 8, 7, 0, 6, 3]
    summary = summarise(scores, SurveyKind.NPS)
    # then NPS = 40% - 30% = 10, average = 69 / 10
    assert (summary.promoters, summary.passives, summary.detractors) == (4, 3, 3)
    assert summary.nps == 10.0
    assert summary.average == 6.9


def test_nps_rounds_to_one_decimal_and_can_be_negative() -> None:
    # 1 promoter, 2 detractors of 3: 33.33% - 66.67% = -33.3
    assert summarise([10, 0, 5], SurveyKind.NPS).nps == -33.3
    assert summarise([], SurveyKind.NPS).to_dict(SurveyKind.NPS) == {
        "responses": 0,
        "average": None,
        "promoters": 0,
        "passives": 0,
        "detractors": 0,
        "nps": None,
    }


def test_nps_from_counts_is_the_formula_summarise_uses() -> None:
    # the analytics figure counts categories in the database and applies this formula
    assert nps(promoters=4, detractors=3, responses=10) == 10.0
    assert nps(1, 2, 3) == summarise([10, 0, 5], SurveyKind.NPS).nps == -33.3
    assert nps(0, 0, 0) is None


def test_csat_is_the_share_of_fours_and_fives() -> None:
    summary = summarise([5, 4, 3, 1, 5, 2, 4, 4], SurveyKind.CSAT)
    assert summary.satisfied == 5
    assert summary.csat == 62.5
    assert summary.to_dict(SurveyKind.CSAT)["csat"] == 62.5


def test_categories_and_scales() -> None:
    assert [nps_category(s) for s in (0, 6, 7, 8, 9, 10)] == [
        "detractor",
        "detractor",
        "passive",
        "passive",
        "promoter",
        "promoter",
    ]
    assert scale_for(SurveyKind.NPS, None, None) == (0, 10)
    assert scale_for(SurveyKind.CSAT, None, None) == (1, 5)
    assert scale_for(SurveyKind.CUSTOM, 1, 7) == (1, 7)
    assert scale_for(SurveyKind.CUSTOM, None, None) == (0, 10)
    with pytest.raises(ValidationFailed):
        scale_for(SurveyKind.NPS, 0, 5)
    with pytest.raises(ValidationFailed):
        scale_for(SurveyKind.CUSTOM, 5, 5)
    with pytest.raises(ScoreOutOfRange):
        check_score(11, 0, 10)
    assert check_score(0, 0, 10) == 0


def test_periods() -> None:
    day = date(2026, 8, 19)  # a Wednesday
    assert period_start(day, Granularity.WEEK) == date(2026, 8, 17)
    assert period_start(day, Granularity.MONTH) == date(2026, 8, 1)
    assert period_start(day, Granularity.QUARTER) == date(2026, 7, 1)
    assert period_start(day, Granularity.YEAR) == date(2026, 1, 1)
    assert period_label(date(2026, 7, 1), Granularity.QUARTER) == "2026-Q3"
    assert period_label(date(2026, 8, 1), Granularity.MONTH) == "2026-08"
    assert period_label(date(2026, 8, 17), Granularity.WEEK) == "2026-W34"
