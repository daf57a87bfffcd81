"""Ledger invariants: each check passes on a consistent member and names the one it catches."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from loyalty.domain.invariants import (
    ALL_CHECKS,
    Check,
    LotSummary,
    MemberLedgerSummary,
    Violation,
    allocations_sum_to_spends,
    balances_match_ledger,
    balances_match_lots,
    debt_is_sane,
    lifetime_matches_ledger,
    lots_are_within_bounds,
    lots_match_allocations,
    validate_all,
    validate_member,
)


def consistent() -> MemberLedgerSummary:
    """Earned 100 (available) and 20 (pending), then spent 30 from the first lot."""
    return MemberLedgerSummary(
        member_id=1,
        external_id="m1",
        available=70,
        pending=20,
        lifetime_earned=120,
        debt=0,
        entries_available=70,
        entries_pending=20,
        entries_lifetime=120,
        entries_credited=120,
        entries_debited=30,
        allocated=30,
        available_lots_remaining=70,
        pending_lots_remaining=20,
        lots_amount=120,
        overdrawn_entries=0,
        lots=(LotSummary(1, 100, 70, 30), LotSummary(2, 20, 20, 0)),
    )


def in_debt() -> MemberLedgerSummary:
    """Earned 100 and spent it all, then a refund reversed 40 more: 40 owed."""
    return MemberLedgerSummary(
        member_id=2,
        external_id="m2",
        available=-40,
        pending=0,
        lifetime_earned=60,
        debt=40,
        entries_available=-40,
        entries_pending=0,
        entries_lifetime=60,
        entries_credited=100,
        entries_debited=140,
        allocated=100,
        available_lots_remaining=0,
        pending_lots_remaining=0,
        lots_amount=100,
        overdrawn_entries=0,
        lots=(LotSummary(1, 100, 0, 100),),
    )


@pytest.mark.parametrize("summary", [consistent(), in_debt()])
@pytest.mark.parametrize("check", ALL_CHECKS)
def test_every_check_passes_on_a_consistent_member(
    check: Check, summary: MemberLedgerSummary
) -> None:
    # given a consistent member (with and without a negative balance)
    # when / then
    assert check(summary) == []
    assert validate_member(summary) == []


def test_a_member_with_no_activity_is_consistent() -> None:
    # given a member that has never earned anything
    empty = MemberLedgerSummary(1, "m0", *([0] * 14))
    # when / then
    assert validate_member(empty) == []


@pytest.mark.parametrize(
    ("check", "changes", "name"),
    [
        (balances_match_ledger, {"available": 71}, "balances == sum(ledger)"),
        (balances_match_ledger, {"entries_pending": 19}, "balances == sum(ledger)"),
        (lifetime_matches_ledger, {"lifetime_earned": 119}, "lifetime == sum(ledger)"),
        (balances_match_lots, {"available_lots_remaining": 69}, "available == lots - debt"),
        (balances_match_lots, {"debt": 1}, "available == lots - debt"),
        (balances_match_lots, {"pending_lots_remaining": 21}, "pending == pending lots"),
        (debt_is_sane, {"debt": -1}, "debt >= 0"),
        (debt_is_sane, {"debt": 5, "available": 65}, "debt is settled first"),
        (
            lots_are_within_bounds,
            {"lots": (LotSummary(1, 100, 101, 0),)},
            "0 <= remaining <= amount",
        ),
        (
            lots_are_within_bounds,
            {"lots": (LotSummary(1, 100, -1, 101),)},
            "0 <= remaining <= amount",
        ),
        (
            lots_match_allocations,
            {"lots": (LotSummary(1, 100, 70, 31),)},
            "lot spent == allocations",
        ),
        (
            lots_match_allocations,
            {"lots": (LotSummary(1, 100, 60, 30),)},
            "lot spent == allocations",
        ),
        (allocations_sum_to_spends, {"overdrawn_entries": 1}, "allocations <= entry"),
        (allocations_sum_to_spends, {"allocated": 31}, "debits == allocations + debt"),
        (allocations_sum_to_spends, {"entries_debited": 29}, "debits == allocations + debt"),
        (allocations_sum_to_spends, {"lots_amount": 121}, "lots == credits"),
        (allocations_sum_to_spends, {"entries_credited": 100}, "lots == credits"),
    ],
)
def test_each_check_detects_the_violation_it_names(
    check: Check, changes: dict[str, Any], name: str
) -> None:
    # given a consistent member with one fact broken
    broken = replace(consistent(), **changes)
    # when the check runs
    violations = check(broken)
    # then it reports that invariant for that member
    assert [v.check for v in violations] == [name]
    assert violations[0].member == "m1"
    # and the full validation reports it too
    assert name in {v.check for v in validate_member(broken)}


def test_a_lot_check_names_every_bad_lot() -> None:
    # given two lots that are both out of bounds
    broken = replace(consistent(), lots=(LotSummary(1, 10, 11, 0), LotSummary(2, 5, -1, 6)))
    # when / then
    details = [v.detail for v in lots_are_within_bounds(broken)]
    assert details == ["lot 1: 11/10", "lot 2: -1/5"]


def test_a_violation_reads_as_member_check_detail() -> None:
    # given / when
    violation = Violation("m1", "debt >= 0", "debt is -1")
    # then
    assert str(violation) == "member m1: debt >= 0: debt is -1"


def test_validate_all_collects_violations_of_every_member() -> None:
    # given one consistent member and two broken ones
    members = [
        consistent(),
        replace(in_debt(), debt=-1, external_id="m3"),
        replace(consistent(), lifetime_earned=0, external_id="m4"),
    ]
    # when
    violations = validate_all(members)
    # then each broken member is named, the consistent one is not
    assert {v.member for v in violations} == {"m3", "m4"}
    assert "lifetime == sum(ledger)" in {v.check for v in violations if v.member == "m4"}
    assert "debt >= 0" in {v.check for v in violations if v.member == "m3"}
