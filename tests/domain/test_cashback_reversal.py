"""Taking back an order's cashback: the refunded share, and the wallet's clawback plan."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty.domain.ledger import CreditReversal, plan_credit_reversal
from loyalty.domain.orders import cashback_reversed_after, cashback_to_reverse
from loyalty.domain.program import Clawback

D = Decimal


@given(
    credited=st.integers(1, 100_000).map(lambda c: D(c) / 100),
    base=st.integers(1, 1_000_000).map(lambda c: D(c) / 100),
    cuts=st.lists(st.integers(1, 1000), min_size=1, max_size=8),
    complete=st.booleans(),
)
def test_partial_refunds_never_take_back_more_than_was_credited(
    credited: Decimal, base: Decimal, cuts: list[int], complete: bool
) -> None:
    # refunds in parts proportional to ``cuts``; ``complete``: they add up to the whole base
    whole = sum(cuts) + (0 if complete else 1)
    parts = [base * cut / whole for cut in cuts]
    if complete:
        parts[-1] = base - sum(parts[:-1])
    before, taken = D(0), []
    for part in parts:
        taken.append(cashback_to_reverse(credited, base, before, part, "PLN"))
        before += part
    assert all(t >= 0 and t == t.quantize(D("0.01")) for t in taken)
    assert sum(taken) <= credited
    if complete:
        assert sum(taken) == credited


def test_the_share_rounds_half_up_to_the_minor_unit() -> None:
    assert cashback_to_reverse(D("10.00"), D(100), D(0), D("33.33"), "PLN") == D("3.33")
    assert cashback_to_reverse(D("10.00"), D(100), D("33.33"), D("33.33"), "PLN") == D("3.34")
    assert cashback_to_reverse(D("1.00"), D(8), D(0), D(1), "PLN") == D("0.13")  # 0.125
    assert cashback_to_reverse(D("100"), D(3), D(0), D(1), "JPY") == D("33")
    assert cashback_reversed_after(D("10.00"), D(100), D(250), "PLN") == D("10.00")
    assert cashback_reversed_after(D("10.00"), D(100), D(0), "PLN") == D("0.00")


@pytest.mark.parametrize(
    ("policy", "balance", "plan"),
    [
        (Clawback.NEGATIVE_BALANCE, "10", CreditReversal(D(10), D(0), D(0))),
        (Clawback.NEGATIVE_BALANCE, "4", CreditReversal(D(10), D(6), D(0))),
        (Clawback.NEGATIVE_BALANCE, "-2", CreditReversal(D(10), D(10), D(0))),
        (Clawback.OTHER_POINTS, "4", CreditReversal(D(4), D(0), D(6))),
        (Clawback.WRITE_OFF, "4", CreditReversal(D(4), D(0), D(6))),
        (Clawback.WRITE_OFF, "-2", CreditReversal(D(0), D(0), D(10))),
        (Clawback.OTHER_POINTS, "25", CreditReversal(D(10), D(0), D(0))),
    ],
)
def test_a_wallet_that_no_longer_holds_the_credit_follows_the_policy(
    policy: Clawback, balance: str, plan: CreditReversal
) -> None:
    assert plan_credit_reversal(D(10), D(balance), policy) == plan
