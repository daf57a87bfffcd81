"""Properties of tier decisions over random activity (Hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.domain.tiers.decision import decide
from loyalty.domain.tiers.events import TierReason
from loyalty.domain.tiers.qualification import Contribution, qualify
from loyalty.domain.tiers.status import TierStatus
from tests.domain.tiers.builders import WARSAW, ladder

START = datetime(2026, 1, 1, tzinfo=UTC)

steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3 * 365 * 24),  # hours after START
        st.integers(min_value=-400, max_value=800).filter(lambda p: p != 0),
    ),
    min_size=1,
    max_size=25,
)
windows = st.sampled_from(
    [{"kind": "calendar_year"}, {"kind": "rolling_days", "days": 90}, {"kind": "lifetime"}]
)
reviews = st.fixed_dictionaries(
    {"grace_days": st.integers(0, 30), "max_levels_down": st.sampled_from([0, 1, 2, None])}
)


@settings(max_examples=60, deadline=None)
@given(steps, windows, reviews)
def test_decisions_rise_at_once_drop_only_at_reviews_and_repeat_as_no_ops(
    activity: list[tuple[int, int]], window: dict[str, object], review: dict[str, object]
) -> None:
    tiers = ladder(window=window, review=review)
    status, facts = TierStatus("m1"), []
    for hours, points in sorted(activity):
        now = START + timedelta(hours=hours)
        facts.append(Contribution(now, points=points))
        decision = decide(tiers, status, facts, now, WARSAW)

        # a drop is only ever a review's, never an immediate one, and at most N levels
        limit = tiers.review.max_levels_down
        for change in decision.changes:
            fall = tiers.rank(change.from_tier) - tiers.rank(change.to_tier)
            if fall > 0:
                assert change.reason is TierReason.REVIEW
                assert limit is None or fall <= limit
        # reaching a threshold gives the tier at once
        reached = qualify(tiers, facts, now, WARSAW).tier
        assert tiers.rank(decision.tier) >= tiers.rank(reached)
        # deciding again at the same moment is a no-op
        again = decide(tiers, decision.status, facts, now, WARSAW)
        assert again.status == decision.status and not again.changes
        status = decision.status
