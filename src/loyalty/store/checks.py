"""Per-member aggregates that the invariant checks of ``loyalty.domain.invariants`` run on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from sqlalchemy import Engine, case, func, select

from loyalty.domain.invariants import LotSummary, MemberLedgerSummary
from loyalty.store.tables import allocations, ledger_entries, lots, members

_CREDIT_KINDS = ("earn", "adjust", "transfer_in", "restore")
_DEBIT_KINDS = ("redeem", "expire", "reverse", "adjust", "transfer_out")


def member_summaries(
    engine: Engine, tenant_id: int | None = None, batch: int = 5_000
) -> Iterator[MemberLedgerSummary]:
    """Stream summaries a batch of members at a time (constant memory on big ledgers)."""
    after = 0
    with engine.connect() as conn:
        conn = conn.execution_options(loyalty_read_only=True)
        while True:
            stmt = select(members).where(members.c.id > after).order_by(members.c.id).limit(batch)
            if tenant_id is not None:
                stmt = stmt.where(members.c.tenant_id == tenant_id)
            rows = conn.execute(stmt).mappings().all()
            if not rows:
                return
            ids = [r["id"] for r in rows]
            yield from _summaries(conn, rows, ids)
            after = ids[-1]
            conn.commit()


def _summaries(conn, rows, ids):  # type: ignore[no-untyped-def]
    delta = ledger_entries.c.available_delta + ledger_entries.c.pending_delta
    entry_sums = {
        r.member_id: r
        for r in conn.execute(
            select(
                ledger_entries.c.member_id,
                func.sum(ledger_entries.c.available_delta).label("available"),
                func.sum(ledger_entries.c.pending_delta).label("pending"),
                func.sum(ledger_entries.c.lifetime_delta).label("lifetime"),
                func.sum(
                    case((ledger_entries.c.kind.in_(_CREDIT_KINDS) & (delta > 0), delta), else_=0)
                ).label("credited"),
                func.sum(
                    case((ledger_entries.c.kind.in_(_DEBIT_KINDS) & (delta < 0), -delta), else_=0)
                ).label("debited"),
            )
            .where(ledger_entries.c.member_id.in_(ids))
            .group_by(ledger_entries.c.member_id)
        )
    }
    per_entry = (
        select(
            ledger_entries.c.member_id,
            ledger_entries.c.id,
            (-delta).label("took"),
            func.coalesce(func.sum(allocations.c.points), 0).label("allocated"),
        )
        .outerjoin(allocations, allocations.c.entry_id == ledger_entries.c.id)
        .where(ledger_entries.c.member_id.in_(ids))
        .group_by(
            ledger_entries.c.member_id,
            ledger_entries.c.id,
            ledger_entries.c.available_delta,
            ledger_entries.c.pending_delta,
        )
        .subquery()
    )
    alloc_sums = {
        r.member_id: r
        for r in conn.execute(
            select(
                per_entry.c.member_id,
                func.sum(per_entry.c.allocated).label("allocated"),
                func.sum(
                    case(
                        (
                            (per_entry.c.allocated > 0)
                            & (per_entry.c.allocated > per_entry.c.took),
                            1,
                        ),
                        else_=0,
                    )
                ).label("over"),
            ).group_by(per_entry.c.member_id)
        )
    }
    lot_alloc = (
        select(allocations.c.lot_id, func.sum(allocations.c.points).label("allocated"))
        .where(allocations.c.lot_id.in_(select(lots.c.id).where(lots.c.member_id.in_(ids))))
        .group_by(allocations.c.lot_id)
        .subquery()
    )
    lots_by_member: dict[int, list[LotSummary]] = defaultdict(list)
    lot_totals: dict[int, dict[str, int]] = defaultdict(
        lambda: {"available": 0, "pending": 0, "amount": 0}
    )
    for r in conn.execute(
        select(
            lots.c.id,
            lots.c.member_id,
            lots.c.amount,
            lots.c.remaining,
            lots.c.status,
            func.coalesce(lot_alloc.c.allocated, 0),
        )
        .outerjoin(lot_alloc, lot_alloc.c.lot_id == lots.c.id)
        .where(lots.c.member_id.in_(ids))
    ):
        lots_by_member[r.member_id].append(LotSummary(r.id, r.amount, r.remaining, int(r[5])))
        totals = lot_totals[r.member_id]
        totals["amount"] += r.amount
        if r.status in ("available", "pending"):
            totals[r.status] += r.remaining
    for m in rows:
        e = entry_sums.get(m["id"])
        a = alloc_sums.get(m["id"])
        t = lot_totals[m["id"]]
        yield MemberLedgerSummary(
            member_id=m["id"],
            external_id=m["external_id"],
            available=m["available"],
            pending=m["pending"],
            lifetime_earned=m["lifetime_earned"],
            debt=m["debt"],
            entries_available=int(e.available) if e else 0,
            entries_pending=int(e.pending) if e else 0,
            entries_lifetime=int(e.lifetime) if e else 0,
            entries_credited=int(e.credited) if e else 0,
            entries_debited=int(e.debited) if e else 0,
            allocated=int(a.allocated) if a else 0,
            available_lots_remaining=t["available"],
            pending_lots_remaining=t["pending"],
            lots_amount=t["amount"],
            overdrawn_entries=int(a.over) if a else 0,
            lots=tuple(lots_by_member[m["id"]]),
        )
