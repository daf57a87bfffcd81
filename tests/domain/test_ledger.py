"""Ledger rules: which lots a spend draws from, how a reversal is covered, debt repayment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty.domain.errors import ErrorCode, InsufficientPoints, ValidationFailed
from loyalty.domain.ledger import (
    Draw,
    OpenLot,
    ReversalPlan,
    draw_points,
    draw_up_to,
    plan_reversal,
    split_draws,
)
from loyalty.domain.program import Clawback

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


# --- draw_points ----------------------------------------------------------------------------


def test_spending_draws_soonest_expiring_lots_first() -> None:
    # given lots listed in no particular order
    lots = [OpenLot(1, 10, day(30)), OpenLot(2, 10, day(10)), OpenLot(3, 10, day(20))]
    # when 25 points are spent
    draws = draw_points(lots, 25)
    # then the lot expiring on day 10 goes first, then day 20, then part of day 30
    assert draws == [Draw(2, 10, day(10)), Draw(3, 10, day(20)), Draw(1, 5, day(30))]


def test_never_expiring_lots_are_spent_last() -> None:
    # given a never-expiring lot that is older (lower id) than an expiring one
    lots = [OpenLot(1, 10, None), OpenLot(2, 10, day(365))]
    # when
    draws = draw_points(lots, 15)
    # then the dated lot is used up before the undated one is touched
    assert draws == [Draw(2, 10, day(365)), Draw(1, 5, None)]


def test_lots_with_the_same_expiry_are_spent_oldest_lot_first() -> None:
    # given two lots with the same expiry, and two that never expire
    lots = [
        OpenLot(7, 5, None),
        OpenLot(4, 5, day(5)),
        OpenLot(3, 5, None),
        OpenLot(2, 5, day(5)),
    ]
    # when everything is spent
    draws = draw_points(lots, 20)
    # then ties are broken by lot id
    assert [d.lot_id for d in draws] == [2, 4, 3, 7]


def test_spending_exactly_what_a_lot_holds_leaves_the_next_lot_alone() -> None:
    # given / when
    draws = draw_points([OpenLot(1, 10, day(1)), OpenLot(2, 10, day(2))], 10)
    # then
    assert draws == [Draw(1, 10, day(1))]


def test_empty_lots_are_skipped() -> None:
    # given a lot with nothing left in it
    draws = draw_points([OpenLot(1, 0, day(1)), OpenLot(2, 3, day(2))], 3)
    # then it is not named in the draws
    assert draws == [Draw(2, 3, day(2))]


def test_spending_more_than_is_available_fails_with_the_numbers() -> None:
    # given 15 points in two lots
    lots = [OpenLot(1, 10, day(1)), OpenLot(2, 5, None)]
    # when / then 16 cannot be spent, and the error says how many were needed and available
    with pytest.raises(InsufficientPoints) as caught:
        draw_points(lots, 16)
    assert caught.value.code is ErrorCode.INSUFFICIENT_POINTS
    assert caught.value.data == {"needed": 16, "available": 15}


def test_spending_with_no_lots_fails() -> None:
    # given / when / then
    with pytest.raises(InsufficientPoints) as caught:
        draw_points([], 1)
    assert caught.value.data == {"needed": 1, "available": 0}


@pytest.mark.parametrize("points", [0, -5])
def test_spending_must_be_positive(points: int) -> None:
    # given / when / then
    with pytest.raises(ValidationFailed) as caught:
        draw_points([OpenLot(1, 10, None)], points)
    assert caught.value.field == "points"


def test_a_negative_adjustment_spends_like_a_redemption_and_may_not_overdraw() -> None:
    # given 30 available points: an adjustment of -30 draws them, soonest-expiring first
    lots = [OpenLot(1, 20, None), OpenLot(2, 10, day(3))]
    assert draw_points(lots, 30) == [Draw(2, 10, day(3)), Draw(1, 20, None)]
    # when / then an adjustment of -31 is refused rather than leaving a negative balance
    with pytest.raises(InsufficientPoints):
        draw_points(lots, 31)


def test_a_transfer_names_each_senders_lot_with_its_expiry_date() -> None:
    # given a sender whose points expire on two dates
    lots = [OpenLot(1, 10, day(90)), OpenLot(2, 10, day(20))]
    # when 15 are transferred
    draws = draw_points(lots, 15)
    # then each draw carries the date of the lot it came from, which the receiver's new lots
    # copy: the 10 expiring on day 20 stay due on day 20, and 5 stay due on day 90
    assert [(d.points, d.expires_at) for d in draws] == [(10, day(20)), (5, day(90))]


def test_draw_up_to_takes_what_there_is() -> None:
    # given 8 points in lots
    lots = [OpenLot(1, 5, None), OpenLot(2, 3, day(1))]
    # when / then asking for more takes everything rather than failing
    assert draw_up_to(lots, 20) == [Draw(2, 3, day(1)), Draw(1, 5, None)]
    assert draw_up_to(lots, 0) == []


lot_lists = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=50),
        st.one_of(st.none(), st.integers(min_value=0, max_value=5)),
    ),
    max_size=8,
).map(
    lambda specs: [
        OpenLot(i + 1, remaining, None if d is None else day(d))
        for i, (remaining, d) in enumerate(specs)
    ]
)


@given(lots=lot_lists, points=st.integers(min_value=1, max_value=300))
def test_draws_take_exactly_the_points_from_the_right_lots(
    lots: list[OpenLot], points: int
) -> None:
    # given any lots and a spend
    have = sum(lot.remaining for lot in lots)
    if points > have:
        # then a spend beyond the balance fails
        with pytest.raises(InsufficientPoints):
            draw_points(lots, points)
        return
    # when
    draws = draw_points(lots, points)
    # then it takes exactly the points, never more than a lot holds, never an empty draw
    assert sum(d.points for d in draws) == points
    by_id = {lot.lot_id: lot for lot in lots}
    assert all(0 < d.points <= by_id[d.lot_id].remaining for d in draws)
    assert len({d.lot_id for d in draws}) == len(draws)
    # and only the last lot drawn may be left partly full
    assert all(d.points == by_id[d.lot_id].remaining for d in draws[:-1])
    # and no lot that sorts earlier was skipped while it still had points
    order = sorted(
        (lot for lot in lots if lot.remaining > 0),
        key=lambda lot: (lot.expires_at is None, lot.expires_at or T0, lot.lot_id),
    )
    assert [d.lot_id for d in draws] == [lot.lot_id for lot in order[: len(draws)]]


# --- plan_reversal --------------------------------------------------------------------------


@pytest.mark.parametrize("policy", list(Clawback))
def test_a_reversal_the_own_lot_still_covers_is_taken_from_it(policy: Clawback) -> None:
    # given the order's lot still holds all the points to reverse
    # when / then every policy takes them from the lot alone
    plan = plan_reversal(30, own_remaining=50, other_available=100, policy=policy)
    assert plan == ReversalPlan(from_own_lot=30, from_other_lots=0, debt=0, written_off=0)
    assert plan.taken == 30


def test_negative_balance_takes_other_points_then_owes_the_rest() -> None:
    # given 100 to reverse, 10 left in the order's lot and 30 in other lots
    # when
    plan = plan_reversal(
        100, own_remaining=10, other_available=30, policy=Clawback.NEGATIVE_BALANCE
    )
    # then 10 + 30 are taken and 60 is owed; nothing is forgiven
    assert plan == ReversalPlan(10, 30, 60, 0)
    assert plan.taken == 100


def test_other_points_takes_other_points_then_writes_off_the_rest() -> None:
    # given / when
    plan = plan_reversal(100, own_remaining=10, other_available=30, policy=Clawback.OTHER_POINTS)
    # then
    assert plan == ReversalPlan(10, 30, 0, 60)
    assert plan.taken == 40


def test_write_off_takes_only_what_the_own_lot_still_holds() -> None:
    # given / when
    plan = plan_reversal(100, own_remaining=10, other_available=30, policy=Clawback.WRITE_OFF)
    # then other points are left alone and the rest is forgiven
    assert plan == ReversalPlan(10, 0, 0, 90)
    assert plan.taken == 10


@pytest.mark.parametrize("policy", list(Clawback))
def test_cancellation_before_release_voids_the_pending_points(policy: Clawback) -> None:
    # given an order whose 80 points are still pending (pending points cannot be spent, so the
    # lot holds all of them) and a member with no other points to draw from a pending lot
    # when the order is cancelled
    plan = plan_reversal(80, own_remaining=80, other_available=0, policy=policy)
    # then the pending lot alone gives them up: nothing owed, nothing written off
    assert plan == ReversalPlan(from_own_lot=80, from_other_lots=0, debt=0, written_off=0)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (Clawback.NEGATIVE_BALANCE, ReversalPlan(0, 0, 40, 0)),
        (Clawback.OTHER_POINTS, ReversalPlan(0, 0, 0, 40)),
        (Clawback.WRITE_OFF, ReversalPlan(0, 0, 0, 40)),
    ],
)
def test_a_reversal_with_nothing_left_anywhere(policy: Clawback, expected: ReversalPlan) -> None:
    # given the order's points and every other point were spent
    # when / then
    assert plan_reversal(40, 0, 0, policy) == expected


def test_other_points_cover_the_whole_shortfall_when_there_are_enough() -> None:
    # given / when / then
    for policy in (Clawback.NEGATIVE_BALANCE, Clawback.OTHER_POINTS):
        assert plan_reversal(50, 20, 100, policy) == ReversalPlan(20, 30, 0, 0)


@given(
    points=st.integers(min_value=0, max_value=1000),
    own=st.integers(min_value=0, max_value=1000),
    other=st.integers(min_value=0, max_value=1000),
    policy=st.sampled_from(Clawback),
)
def test_a_reversal_plan_accounts_for_every_point(
    points: int, own: int, other: int, policy: Clawback
) -> None:
    # given / when
    plan = plan_reversal(points, own, other, policy)
    # then every point is taken, owed or written off, from sources that hold them
    assert plan.taken + plan.written_off == points
    assert 0 <= plan.from_own_lot <= own
    assert 0 <= plan.from_other_lots <= other
    assert plan.debt >= 0 and plan.written_off >= 0
    assert plan.from_own_lot == min(points, own)
    if policy is not Clawback.NEGATIVE_BALANCE:
        assert plan.debt == 0
    if policy is Clawback.WRITE_OFF:
        assert plan.from_other_lots == 0
    if policy is Clawback.NEGATIVE_BALANCE:
        assert plan.written_off == 0


# --- split_draws ----------------------------------------------------------------------------


def test_repayment_settles_the_oldest_debt_first_across_lots() -> None:
    # given entries 11 and 12 owed 5 and 7, and new points drawn from two lots
    draws = [Draw(1, 4, day(1)), Draw(2, 6, None)]
    # when
    pieces = split_draws(draws, [(11, 5), (12, 7)])
    # then entry 11 is paid 4 from lot 1 and 1 from lot 2, entry 12 gets the remaining 5
    assert pieces == [
        (11, Draw(1, 4, day(1))),
        (11, Draw(2, 1, None)),
        (12, Draw(2, 5, None)),
    ]


def test_repayment_ignores_entries_that_owe_nothing_and_stops_when_all_is_paid() -> None:
    # given an entry owing 0 and more drawn points than are owed
    pieces = split_draws([Draw(1, 10, None)], [(11, 0), (12, 3)])
    # then only what is owed is assigned
    assert pieces == [(12, Draw(1, 3, None))]


def test_repayment_with_nothing_drawn_assigns_nothing() -> None:
    # given / when / then
    assert split_draws([], [(11, 5)]) == []


@given(
    draws=st.lists(st.integers(min_value=1, max_value=50), max_size=6),
    owed=st.lists(st.integers(min_value=0, max_value=50), max_size=6),
)
def test_repayment_pieces_add_up(draws: list[int], owed: list[int]) -> None:
    # given draws from lots and entries that are owed points
    lot_draws = [Draw(i + 1, p, None) for i, p in enumerate(draws)]
    entries = [(100 + i, p) for i, p in enumerate(owed)]
    # when
    pieces = split_draws(lot_draws, entries)
    # then the pieces cover min(drawn, owed), no entry gets more than it is owed,
    # no lot gives more than was drawn from it, and every piece is positive
    assert sum(d.points for _, d in pieces) == min(sum(draws), sum(owed))
    for entry_id, points in entries:
        assert sum(d.points for e, d in pieces if e == entry_id) <= points
    for draw in lot_draws:
        assert sum(d.points for _, d in pieces if d.lot_id == draw.lot_id) <= draw.points
    assert all(d.points > 0 for _, d in pieces)
