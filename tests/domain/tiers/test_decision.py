"""Deciding a member's tier: up at once, down only at a review, manual floors, refunds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loyalty.domain.errors import ValidationFailed
from loyalty.domain.tiers.decision import decide, set_manual_tier
from loyalty.domain.tiers.errors import UnknownTier
from loyalty.domain.tiers.events import TierReason
from loyalty.domain.tiers.qualification import Contribution
from loyalty.domain.tiers.status import TierStatus
from tests.domain.tiers.builders import WARSAW, at, ladder

YEARLY = {"kind": "calendar_year"}
NEW_YEAR_2027 = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)  # midnight in Warsaw
NEW_YEAR_2028 = datetime(2027, 12, 31, 23, 0, tzinfo=UTC)


def earn(when: datetime, points: int) -> Contribution:
    return Contribution.points_earned(when, points)


def test_member_rises_as_soon_as_the_threshold_is_reached() -> None:
    # given
    tiers = ladder(window=YEARLY)
    facts = [earn(at(2026, 3, 1), 300), earn(at(2026, 3, 2), 250)]

    # when
    decision = decide(tiers, TierStatus("m1"), facts, at(2026, 3, 2), WARSAW)

    # then
    assert decision.tier == "gold"
    assert decision.status.since == at(2026, 3, 2)
    assert decision.next_review_at == NEW_YEAR_2027
    assert [(c.from_tier, c.to_tier, c.reason) for c in decision.changes] == [
        (None, "gold", TierReason.QUALIFIED)
    ]


def test_deciding_twice_at_the_same_moment_changes_nothing() -> None:
    tiers = ladder(window=YEARLY)
    facts = [earn(at(2026, 3, 1), 600)]
    first = decide(tiers, TierStatus("m1"), facts, at(2026, 3, 1), WARSAW)

    again = decide(tiers, first.status, facts, at(2026, 3, 1), WARSAW)

    assert again.status == first.status
    assert not again.changed


def test_falling_below_mid_period_does_not_drop_the_member() -> None:
    # given: gold, then a reversal takes the points below the gold threshold
    tiers = ladder(window=YEARLY)
    facts = [earn(at(2026, 3, 1), 600)]
    gold = decide(tiers, TierStatus("m1"), facts, at(2026, 3, 1), WARSAW).status
    facts.append(Contribution.points_reversed(at(2026, 4, 1), 300))

    # when
    decision = decide(tiers, gold, facts, at(2026, 4, 1), WARSAW)

    # then
    assert decision.tier == "gold"
    assert not decision.changed


def test_refunds_drop_at_once_when_configured() -> None:
    tiers = ladder(window=YEARLY, review={"refunds_downgrade_immediately": True})
    facts = [earn(at(2026, 3, 1), 600)]
    gold = decide(tiers, TierStatus("m1"), facts, at(2026, 3, 1), WARSAW).status
    facts.append(Contribution.points_reversed(at(2026, 4, 1), 300))

    decision = decide(tiers, gold, facts, at(2026, 4, 1), WARSAW)

    assert decision.tier == "silver"
    assert decision.changes[-1].reason is TierReason.REFUND


def test_review_drops_one_level_at_new_year_when_short() -> None:
    # given: platinum in 2026 (kept at the 2027 review: 2026 qualified), nothing in 2027
    tiers = ladder(window=YEARLY)
    facts = [earn(at(2026, 3, 1), 1200)]
    platinum = decide(tiers, TierStatus("m1"), facts, at(2026, 3, 1), WARSAW).status
    kept = decide(tiers, platinum, facts, at(2027, 1, 5), WARSAW)

    # when: the job runs a few days late (catch-up)
    decision = decide(tiers, kept.status, facts, at(2028, 1, 5), WARSAW)

    # then: one level down, dated at the review, reviewed again next new year
    assert kept.tier == "platinum" and kept.reason is TierReason.KEPT
    assert decision.tier == "gold"
    assert decision.effective_at == NEW_YEAR_2028
    assert decision.changes[-1].reason is TierReason.REVIEW
    assert decision.next_review_at == datetime(2028, 12, 31, 23, 0, tzinfo=UTC)


def test_review_keeps_a_member_who_qualified_over_the_year() -> None:
    tiers = ladder(window=YEARLY)
    facts = [earn(at(2026, 3, 1), 600), earn(at(2026, 11, 1), 10)]
    gold = decide(tiers, TierStatus("m1"), facts, at(2026, 3, 1), WARSAW).status

    decision = decide(tiers, gold, facts, at(2027, 1, 2), WARSAW)

    assert decision.tier == "gold"
    assert decision.reason is TierReason.KEPT
    assert decision.next_review_at == datetime(2027, 12, 31, 23, 0, tzinfo=UTC)


def test_refund_counts_at_the_next_review() -> None:
    # given: gold in 2026, then a refund dated 2026 takes the year below gold
    tiers = ladder(window=YEARLY)
    facts = [earn(at(2026, 3, 1), 600)]
    gold = decide(tiers, TierStatus("m1"), facts, at(2026, 3, 1), WARSAW).status
    facts.append(Contribution.points_reversed(at(2026, 10, 1), 200))

    # when
    decision = decide(tiers, gold, facts, at(2027, 1, 1, 1), WARSAW)

    # then
    assert decision.tier == "silver"


def test_max_levels_down_none_drops_as_far_as_the_metric_says() -> None:
    tiers = ladder(window=YEARLY, review={"max_levels_down": None})
    facts = [earn(at(2026, 3, 1), 1200)]
    platinum = decide(tiers, TierStatus("m1"), facts, at(2026, 3, 1), WARSAW).status

    decision = decide(tiers, platinum, facts, at(2028, 1, 2), WARSAW)

    assert decision.tier is None
    assert decision.status.review_at is None


def test_max_levels_down_zero_never_drops() -> None:
    tiers = ladder(window=YEARLY, review={"max_levels_down": 0})
    facts = [earn(at(2026, 3, 1), 1200)]
    platinum = decide(tiers, TierStatus("m1"), facts, at(2026, 3, 1), WARSAW).status

    assert decide(tiers, platinum, facts, at(2029, 1, 2), WARSAW).tier == "platinum"


def test_catch_up_over_several_years_drops_once_per_review() -> None:
    tiers = ladder(window=YEARLY)
    facts = [earn(at(2026, 3, 1), 1200)]
    platinum = decide(tiers, TierStatus("m1"), facts, at(2026, 3, 1), WARSAW).status

    decision = decide(tiers, platinum, facts, at(2029, 6, 1), WARSAW)

    assert [c.to_tier for c in decision.changes] == ["gold", "silver"]
    assert decision.tier == "silver"


def test_grace_period_delays_the_drop_and_requalifying_keeps_the_tier() -> None:
    # given: gold with 30 days of grace
    tiers = ladder(window={"kind": "rolling_days", "days": 365}, review={"grace_days": 30})
    facts = [earn(at(2026, 3, 1), 600)]
    gold = decide(tiers, TierStatus("m1"), facts, at(2026, 3, 1), WARSAW).status

    # when: at the review the rolling year holds 600 (still enough) -> kept; a year later short
    kept = decide(tiers, gold, facts, at(2027, 1, 2), WARSAW)
    during_grace = decide(tiers, kept.status, facts, at(2028, 1, 10), WARSAW)

    # then: the drop waits for the grace period
    assert kept.tier == "gold"
    assert during_grace.tier == "gold"
    assert during_grace.reason is TierReason.PENDING
    assert during_grace.pending is not None and during_grace.pending.tier == "silver"
    assert during_grace.pending.at == datetime(2028, 1, 30, 23, 0, tzinfo=UTC)

    # when: re-qualifying during the grace period keeps gold
    facts.append(earn(at(2028, 1, 20), 500))
    rescued = decide(tiers, during_grace.status, facts, at(2028, 2, 5), WARSAW)
    assert rescued.tier == "gold"

    # and: without it, gold ends when the grace period does
    dropped = decide(tiers, during_grace.status, facts[:1], at(2028, 2, 5), WARSAW)
    assert dropped.tier == "silver"
    assert dropped.effective_at == datetime(2028, 1, 30, 23, 0, tzinfo=UTC)


def test_months_after_reached_review_clamps_to_month_end() -> None:
    tiers = ladder(review={"kind": "months_after_reached", "months": 1})

    decision = decide(
        tiers, TierStatus("m1"), [earn(at(2026, 1, 31), 150)], at(2026, 1, 31), WARSAW
    )

    assert decision.next_review_at == at(2026, 2, 28).astimezone(UTC)


def test_manual_tier_is_a_floor_until_its_end_date() -> None:
    # given: an admin sets gold until 1 March 2027 for a member with no activity
    tiers = ladder(window=YEARLY)
    until = at(2027, 3, 1, 0)
    manual = set_manual_tier(
        tiers, TierStatus("m1"), [], "gold", until, at(2026, 6, 1), WARSAW, set_by="admin"
    )

    # then: gold now, still gold after the new-year review, re-measured when the floor ends
    assert manual.tier == "gold"
    assert manual.changes[-1].reason is TierReason.MANUAL
    assert decide(tiers, manual.status, [], at(2027, 2, 1), WARSAW).tier == "gold"
    after = decide(tiers, manual.status, [], at(2027, 3, 2), WARSAW)
    assert after.tier == "silver"
    assert after.status.manual is None


def test_member_rises_above_a_manual_floor() -> None:
    tiers = ladder()
    manual = set_manual_tier(tiers, TierStatus("m1"), [], "silver", None, at(2026, 6, 1), WARSAW)

    decision = decide(tiers, manual.status, [earn(at(2026, 6, 2), 800)], at(2026, 6, 2), WARSAW)

    assert decision.tier == "gold"


def test_manual_tier_refuses_unknown_tiers_and_past_end_dates() -> None:
    tiers = ladder()
    with pytest.raises(UnknownTier):
        set_manual_tier(tiers, TierStatus("m1"), [], "bronze", None, at(2026, 6, 1), WARSAW)
    with pytest.raises(ValidationFailed) as caught:
        set_manual_tier(tiers, TierStatus("m1"), [], "gold", at(2026, 5, 1), at(2026, 6, 1), WARSAW)
    assert caught.value.field == "until"


def test_review_at_new_year_uses_local_midnight_not_utc() -> None:
    # given: platinum in 2026; points earned at 23:30 local on 31 December count for 2026
    tiers = ladder(window=YEARLY)
    facts = [earn(at(2026, 1, 10), 1000), earn(at(2026, 12, 31, 23, 30), 1)]
    status = decide(tiers, TierStatus("m1"), facts[:1], at(2026, 1, 10), WARSAW).status

    # when: 00:30 local on 1 January (still 31 December in UTC)
    decision = decide(tiers, status, facts, at(2027, 1, 1, 0, 30), WARSAW)

    # then: reviewed on the local year just ended, which qualified
    assert decision.tier == "platinum"
    assert decision.reason is TierReason.KEPT
