"""The ledger's invariants as small pure checks. ``loyalty check`` and the tests run them all.

Each check takes a per-member summary (aggregated by the store) and returns violations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LotSummary:
    lot_id: int
    amount: int
    remaining: int
    allocated: int  # allocation rows that drew from this lot, less points returned to it


@dataclass(frozen=True, slots=True)
class MemberLedgerSummary:
    member_id: int
    external_id: str
    available: int  # cached balances on the member row
    pending: int
    lifetime_earned: int
    debt: int
    entries_available: int  # sums over ledger entries
    entries_pending: int
    entries_lifetime: int
    entries_credited: int  # points that entered the member's lots (earn, adjust +, transfer in)
    entries_debited: int  # points that left (spends, expiry, reversals; release excluded)
    allocated: int  # allocation rows of the member's entries, less points returned to lots
    available_lots_remaining: int
    pending_lots_remaining: int
    lots_amount: int
    overdrawn_entries: int  # entries whose allocations exceed the points they took
    lots: tuple[LotSummary, ...] = ()


@dataclass(frozen=True, slots=True)
class Violation:
    member: str
    check: str
    detail: str

    def __str__(self) -> str:
        return f"member {self.member}: {self.check}: {self.detail}"


Check = Callable[[MemberLedgerSummary], list[Violation]]


def _v(m: MemberLedgerSummary, check: str, detail: str) -> list[Violation]:
    return [Violation(m.external_id, check, detail)]


def balances_match_ledger(m: MemberLedgerSummary) -> list[Violation]:
    if (m.available, m.pending) != (m.entries_available, m.entries_pending):
        return _v(
            m,
            "balances == sum(ledger)",
            f"cached available/pending {m.available}/{m.pending}, "
            f"ledger says {m.entries_available}/{m.entries_pending}",
        )
    return []


def lifetime_matches_ledger(m: MemberLedgerSummary) -> list[Violation]:
    if m.lifetime_earned != m.entries_lifetime:
        return _v(m, "lifetime == sum(ledger)", f"{m.lifetime_earned} != {m.entries_lifetime}")
    return []


def balances_match_lots(m: MemberLedgerSummary) -> list[Violation]:
    if m.available != m.available_lots_remaining - m.debt:
        return _v(
            m,
            "available == lots - debt",
            f"available {m.available}, lots {m.available_lots_remaining}, debt {m.debt}",
        )
    if m.pending != m.pending_lots_remaining:
        return _v(m, "pending == pending lots", f"{m.pending} != {m.pending_lots_remaining}")
    return []


def debt_is_sane(m: MemberLedgerSummary) -> list[Violation]:
    if m.debt < 0:
        return _v(m, "debt >= 0", f"debt is {m.debt}")
    if m.debt > 0 and m.available_lots_remaining > 0:
        return _v(
            m, "debt is settled first", f"debt {m.debt} with {m.available_lots_remaining} available"
        )
    return []


def lots_are_within_bounds(m: MemberLedgerSummary) -> list[Violation]:
    return [
        Violation(
            m.external_id,
            "0 <= remaining <= amount",
            f"lot {lot.lot_id}: {lot.remaining}/{lot.amount}",
        )
        for lot in m.lots
        if not 0 <= lot.remaining <= lot.amount
    ]


def lots_match_allocations(m: MemberLedgerSummary) -> list[Violation]:
    """Every point that left a lot is named by exactly one allocation: no lot spent twice."""
    return [
        Violation(
            m.external_id,
            "lot spent == allocations",
            f"lot {lot.lot_id}: spent {lot.amount - lot.remaining}, allocated {lot.allocated}",
        )
        for lot in m.lots
        if lot.amount - lot.remaining != lot.allocated
    ]


def allocations_sum_to_spends(m: MemberLedgerSummary) -> list[Violation]:
    out: list[Violation] = []
    if m.overdrawn_entries:
        out += _v(
            m, "allocations <= entry", f"{m.overdrawn_entries} entries drew more than they took"
        )
    if m.entries_debited != m.allocated + m.debt:
        out += _v(
            m,
            "debits == allocations + debt",
            f"debited {m.entries_debited}, allocated {m.allocated}, debt {m.debt}",
        )
    if m.lots_amount != m.entries_credited:
        out += _v(m, "lots == credits", f"lots hold {m.lots_amount}, credits {m.entries_credited}")
    return out


ALL_CHECKS: tuple[Check, ...] = (
    balances_match_ledger,
    lifetime_matches_ledger,
    balances_match_lots,
    debt_is_sane,
    lots_are_within_bounds,
    lots_match_allocations,
    allocations_sum_to_spends,
)


def validate_member(m: MemberLedgerSummary) -> list[Violation]:
    return [violation for check in ALL_CHECKS for violation in check(m)]


def validate_all(members: Iterable[MemberLedgerSummary]) -> list[Violation]:
    return [violation for m in members for violation in validate_member(m)]
