"""Paid membership plans and the life of one membership."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from loyalty.domain.errors import ValidationFailed
from loyalty.domain.tiers.errors import IllegalMembershipTransition, InvalidTierSettings
from loyalty.domain.tiers.membership import (
    MembershipPlan,
    MembershipStatus,
    Term,
    cancel,
    expire,
    renew,
    start,
)
from tests.domain.tiers.builders import WARSAW, at

PLAN = {
    "name": "Plus",
    "price": "19.99",
    "currency": "PLN",
    "term": "monthly",
    "benefits": {"earn_multiplier": "1.2", "free_shipping": True},
}


def plan(**changes: Any) -> MembershipPlan:
    return MembershipPlan.from_dict({**PLAN, **changes})


def test_plan_round_trips() -> None:
    parsed = plan(trial_days=14)

    assert parsed.term is Term.MONTHLY and parsed.price == Decimal("19.99")
    assert MembershipPlan.from_dict(parsed.to_dict()) == parsed


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"term": "weekly"}, "term"),
        ({"price": "1.999"}, "price"),
        ({"price": "-1"}, "price"),
        ({"trial_days": 400}, "trial_days"),
        ({"name": " "}, "name"),
        ({"benefits": {"earn_multiplier": "-1"}}, "benefits.earn_multiplier"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_plan_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidTierSettings) as caught:
        plan(**changes)
    assert caught.value.field == field


def test_start_without_trial_runs_one_term_and_clamps_month_end() -> None:
    membership = start("ms1", 1, plan(), at(2026, 1, 31), WARSAW)

    assert membership.status is MembershipStatus.ACTIVE
    assert membership.ends_at == at(2026, 2, 28).astimezone(UTC)
    assert membership.active(at(2026, 2, 27))
    assert not membership.active(at(2026, 2, 28, 13))


def test_trial_then_renewal_extends_from_the_trial_end() -> None:
    trial = start("ms1", 1, plan(trial_days=14), at(2026, 3, 1), WARSAW)

    renewed = renew(trial, plan(trial_days=14), at(2026, 3, 10), WARSAW)

    assert trial.status is MembershipStatus.TRIALING
    assert trial.ends_at == at(2026, 3, 15).astimezone(UTC)
    assert renewed.status is MembershipStatus.ACTIVE
    assert renewed.ends_at == at(2026, 4, 15).astimezone(UTC)


def test_renewing_after_a_lapse_counts_from_now() -> None:
    membership = start("ms1", 1, plan(term="yearly"), at(2026, 1, 1), WARSAW)

    renewed = renew(membership, plan(term="yearly"), at(2027, 3, 1), WARSAW)

    assert renewed.ends_at == at(2028, 3, 1).astimezone(UTC)


def test_cancel_keeps_benefits_until_the_term_ends_unless_immediate() -> None:
    membership = start("ms1", 1, plan(), at(2026, 3, 1), WARSAW)

    cancelled = cancel(membership, at(2026, 3, 5).astimezone(UTC))
    ended = cancel(membership, at(2026, 3, 5).astimezone(UTC), immediately=True)

    assert cancelled.status is MembershipStatus.CANCELLED
    assert cancelled.active(at(2026, 3, 20)) and not cancelled.active(at(2026, 4, 2))
    assert not ended.active(at(2026, 3, 6))


def test_expired_membership_takes_no_further_events() -> None:
    membership = expire(start("ms1", 1, plan(), at(2026, 3, 1), WARSAW), at(2026, 3, 2))

    assert not membership.active(at(2026, 3, 3))
    for change in (
        lambda: renew(membership, plan(), at(2026, 3, 3), WARSAW),
        lambda: cancel(membership, at(2026, 3, 3)),
        lambda: expire(membership, at(2026, 3, 3)),
    ):
        with pytest.raises(IllegalMembershipTransition):
            change()


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        start("ms1", 1, plan(), datetime(2026, 3, 1), WARSAW)
