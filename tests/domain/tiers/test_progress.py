"""The member view: progress to the next tier and a forecast of the next review."""

from __future__ import annotations

from datetime import UTC, datetime

from loyalty.domain.tiers.decision import decide
from loyalty.domain.tiers.progress import progress
from loyalty.domain.tiers.qualification import Contribution
from loyalty.domain.tiers.status import TierStatus
from tests.domain.tiers.builders import WARSAW, at, ladder


def test_progress_says_what_is_missing_and_by_when() -> None:
    # given: silver with 150 points this year
    tiers = ladder(window={"kind": "calendar_year"})
    facts = [Contribution.points_earned(at(2026, 3, 1), 150)]
    status = decide(tiers, TierStatus("m1"), facts, at(2026, 3, 1), WARSAW).status

    # when
    view = progress(tiers, status, facts, at(2026, 5, 1), WARSAW)

    # then
    assert view.value == 150
    assert view.next_tier == "gold" and view.missing == 350
    assert view.by == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    assert view.review is not None and view.review.keeps and view.review.tier == "silver"
    assert view.to_dict(tiers)["next_review"]["outcome"] == "keep"


def test_forecast_shows_a_drop_when_the_year_falls_short() -> None:
    # given: gold reached in 2026 and kept at the 2027 review, nothing earned in 2027
    tiers = ladder(window={"kind": "calendar_year"}, review={"grace_days": 14})
    facts = [Contribution.points_earned(at(2026, 3, 1), 600)]
    status = decide(tiers, TierStatus("m1"), facts, at(2026, 3, 1), WARSAW).status
    status = decide(tiers, status, facts, at(2027, 2, 1), WARSAW).status

    # when
    view = progress(tiers, status, facts, at(2027, 6, 1), WARSAW)

    # then
    assert view.value == 0 and view.missing == 1000 and view.next_tier == "platinum"
    assert view.review is not None
    assert (view.review.tier, view.review.keeps) == ("silver", False)
    assert view.review.effective_at == datetime(2028, 1, 14, 23, 0, tzinfo=UTC)


def test_top_tier_has_nothing_missing_and_lifetime_no_deadline() -> None:
    tiers = ladder()
    facts = [Contribution.points_earned(at(2026, 3, 1), 5000)]
    status = decide(tiers, TierStatus("m1"), facts, at(2026, 3, 1), WARSAW).status

    view = progress(tiers, status, facts, at(2026, 3, 2), WARSAW)

    assert view.next_tier is None and view.missing is None and view.by is None
