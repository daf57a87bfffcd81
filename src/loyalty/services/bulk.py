"""Order events in bulk: the same ledger effects and responses as one by one, written set-based.

A batch is walked in order. Runs of plain ``order.paid`` events are collected into a group and
written with a handful of multi-row statements; any other event (a refund, a customer update, an
event naming a blocked member or one with a negative balance to repay) first writes the group so
far, then takes the one-by-one path. Each member's events therefore still apply in the order sent.

Tiers: an order that earns at a multiplier other than 1 (the member's tier's or a paid
membership's) sends its member to the one-by-one path, which applies it (in history mode the
set-based writer applies it itself, see below); when a tier has such a multiplier, a group holds
at most one order per member (the member's next order starts the next group), so that a tier
reached in the middle of a batch counts from the member's next order on, as it does one by one.

``history=True`` is the history import's lean mode: the same orders, lots, entries, balances and
tiers, but no inbox rows (a re-run is recognised by the orders table), no response bodies and no
outbox rows (importing years of orders must not send the shop's receivers a webhook per old
order, nor a ``tier.changed`` for a tier the old orders reach). Multiplied orders stay in the
set-based writer, with the multiplier the one-by-one path would apply. What history mode still
sends one by one (every event of a tenant with earning rules; a blocked member, a debt, a
referral waiting for a first order) runs with the outbox muted, so it announces nothing either;
those events do keep their inbox rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from loyalty.domain.errors import DomainError, EventConflict
from loyalty.domain.events import InboundEvent, OrderPaid
from loyalty.domain.ledger import EntryKind, LotStatus
from loyalty.domain.members import MemberStatus
from loyalty.domain.tiers.benefits import ONE
from loyalty.domain.tiers.ladder import TierLadder
from loyalty.services import events, tiers
from loyalty.services.context import TenantContext
from loyalty.services.events import EventResult
from loyalty.services.ledger import lot_dates, lot_view
from loyalty.services.members import profile_fields
from loyalty.services.views import member_summary
from loyalty.store._raw import dump_json
from loyalty.store.bulk import BulkWriter
from loyalty.store.uow import Database, UnitOfWork


async def ingest_grouped(
    db: Database, ctx: TenantContext, event: InboundEvent, now: datetime
) -> EventResult:
    """One event from a request, applied with the events other requests queued meanwhile.

    On SQLite the writer thread hands consecutive events of one tenant (and key) to
    ``process_batch`` together, so a burst of single-event requests is written set-based; the
    response is the one ``events.process`` gives. A failed event raises its ``DomainError``.
    """
    result = await db.run_item_async(
        ctx.tenant_id, ("events", id(ctx)), (event, now), partial(_apply_grouped, ctx)
    )
    if result.error is not None:
        raise result.error
    return result


def _apply_grouped(
    ctx: TenantContext, uow: UnitOfWork, items: list[tuple[InboundEvent, datetime]]
) -> list[EventResult]:
    if len(items) == 1:  # alone: the one-by-one path is the cheaper one
        event, now = items[0]
        return [events.process(uow, ctx, event, now)]
    return process_batch(uow, ctx, [event for event, _ in items], max(now for _, now in items))


def ingest_batch(
    db: Database, ctx: TenantContext, batch: list[InboundEvent], now: datetime
) -> list[EventResult]:
    return db.run(ctx.tenant_id, lambda uow: process_batch(uow, ctx, batch, now))


def process_batch(
    uow: UnitOfWork,
    ctx: TenantContext,
    batch: Sequence[InboundEvent],
    now: datetime,
    *,
    history: bool = False,
) -> list[EventResult]:
    """Apply every event once, in order; one bad event spoils only itself.

    A tenant with active earning rules takes the one-by-one path for every event: the rules
    read and write per-member counters between events, which the set-based writer does not
    model, and the results are then those of ``events.process`` by construction.
    """
    results: list[EventResult | None] = [None] * len(batch)
    if history:  # whatever goes one by one in it: no webhook or email for an old order
        muted, uow.outbox.muted = uow.outbox.muted, True
        try:
            return _process(uow, ctx, batch, now, results, history=True)
        finally:
            uow.outbox.muted = muted
    return _process(uow, ctx, batch, now, results, history=False)


def _process(
    uow: UnitOfWork,
    ctx: TenantContext,
    batch: Sequence[InboundEvent],
    now: datetime,
    results: list[EventResult | None],
    *,
    history: bool,
) -> list[EventResult]:
    if uow.rules.set_version()[1] > 0:
        return [one_by_one(uow, ctx, event, now) for event in batch]
    ladder = tiers.load_ladder(uow)  # tier edits are not events: it holds for the whole batch
    group = _Group(history=history, ladder=ladder, one_per_member=tiers.ladder_multiplies(ladder))
    for index, event in enumerate(batch):
        if group.accepts(event, ctx):
            group.add(index, event)
            continue
        group.flush(uow, ctx, batch, results, now)
        if group.accepts(event, ctx):  # it only clashed with the group: it starts the next
            group.add(index, event)
            continue
        results[index] = one_by_one(uow, ctx, event, now)
    group.flush(uow, ctx, batch, results, now)
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def one_by_one(
    uow: UnitOfWork, ctx: TenantContext, event: InboundEvent, now: datetime
) -> EventResult:
    try:
        with uow.savepoint():
            return events.process(uow, ctx, event, now)
    except DomainError as error:
        return EventResult({}, error=error)


@dataclass
class _Group:
    indexes: list[int] = field(default_factory=list)
    event_ids: set[str] = field(default_factory=set)
    order_ids: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)
    source: str | None = None
    history: bool = False
    ladder: TierLadder | None = None
    # A tier reached by one order changes what the member's next order earns: with such tiers
    # a group holds one order per member, and tiers are decided again between groups.
    one_per_member: bool = False

    def accepts(self, event: InboundEvent, ctx: TenantContext) -> bool:
        payload = event.payload
        return (
            isinstance(payload, OrderPaid)
            and payload.referral is None
            and payload.checkout_id is None  # a checkout to commit takes the one-by-one path
            and event.member is not None
            and payload.order.currency == ctx.program.currency
            and event.event_id not in self.event_ids
            and payload.order.order_id not in self.order_ids
            and (self.source is None or event.source == self.source)
            and not (self.one_per_member and event.member.external_id in self.members)
        )

    def add(self, index: int, event: InboundEvent) -> None:
        assert isinstance(event.payload, OrderPaid)
        self.indexes.append(index)
        self.event_ids.add(event.event_id)
        self.order_ids.add(event.payload.order.order_id)
        assert event.member is not None
        self.members.add(event.member.external_id)
        self.source = event.source

    def flush(
        self,
        uow: UnitOfWork,
        ctx: TenantContext,
        batch: Sequence[InboundEvent],
        results: list[EventResult | None],
        now: datetime,
    ) -> None:
        if self.indexes:
            _write_group(uow, ctx, batch, self.indexes, results, now, self.history, self.ladder)
        self.indexes, self.event_ids, self.order_ids, self.source = [], set(), set(), None
        self.members = set()


def _write_group(
    uow: UnitOfWork,
    ctx: TenantContext,
    batch: Sequence[InboundEvent],
    indexes: list[int],
    results: list[EventResult | None],
    now: datetime,
    history: bool,
    ladder: TierLadder | None,
) -> None:
    writer = BulkWriter(uow.raw, uow.tenant_id)
    source = batch[indexes[0]].source
    seen = {} if history else writer.seen_events(source, [batch[i].event_id for i in indexes])
    fresh = []
    for i in indexes:
        event = batch[i]
        if event.event_id not in seen:
            fresh.append(i)
            continue
        body_hash, response = seen[event.event_id]
        if body_hash == event.body_hash:
            results[i] = EventResult(response, replayed=True)
        else:
            error = EventConflict(
                f"event '{event.event_id}' was received before with a different body", field="id"
            )
            results[i] = EventResult({}, error=error)
    if not fresh:
        return
    members = _members(uow, writer, [batch[i] for i in fresh], now, history)
    careful = {
        x for x, m in members.items() if m["status"] == MemberStatus.BLOCKED or m["debt"] > 0
    }
    careful |= {_member_id(batch[i]) for i in fresh} - members.keys()  # profile refused
    waiting = uow.referrals.awaiting_first_order({x: m["id"] for x, m in members.items()})
    careful |= waiting  # the referral path is one by one
    multipliers = _multipliers(uow, ladder, batch, fresh, members, careful, now, history)
    if not history:  # the one-by-one path applies them (and answers as it does)
        careful |= {_member_id(batch[i]) for i in multipliers}
    plain = [i for i in fresh if _member_id(batch[i]) not in careful]
    for i in fresh:
        if _member_id(batch[i]) in careful:
            results[i] = one_by_one(uow, ctx, batch[i], now)
    if plain:
        _write_orders(uow, ctx, writer, batch, plain, members, results, now, history, multipliers)
        ordered = {_member_id(batch[i]) for i in plain}
        refreshed = {members[x]["id"]: x for x in ordered}
        tiers.refresh_members(uow, ctx, refreshed, now, announce=not history)


def _multipliers(
    uow: UnitOfWork,
    ladder: TierLadder | None,
    batch: Sequence[InboundEvent],
    indexes: list[int],
    members: dict[str, dict[str, Any]],
    careful: set[str],
    now: datetime,
    history: bool,
) -> dict[int, Decimal]:
    """Event index -> the multiplier other than 1 its order earns at (the member's tier's and
    paid memberships', when the order was paid), as the one-by-one path reads it. Outside
    history mode one such order is enough to send its member one by one, so the member's
    other orders are not read. Without tiers or paid memberships: none, and one probe."""
    if not tiers.may_multiply(uow, ladder):
        return {}
    out: dict[int, Decimal] = {}
    multiplied: set[str] = set()
    for i in indexes:
        external_id = _member_id(batch[i])
        if external_id in careful or (not history and external_id in multiplied):
            continue
        if not _paid(batch[i]).earn:  # earns nothing at any multiplier (history-only rows)
            continue
        at = min(batch[i].occurred_at, now)
        multiplier = tiers.base_multiplier(
            uow, ladder, members[external_id]["id"], at, checked=True
        )
        if multiplier != ONE:
            out[i] = multiplier
            multiplied.add(external_id)
    return out


def _member_id(event: InboundEvent) -> str:
    assert event.member is not None
    return event.member.external_id


def _members(
    uow: UnitOfWork, writer: BulkWriter, group: list[InboundEvent], now: datetime, history: bool
) -> dict[str, dict[str, Any]]:
    """The members the group names, created on first sight and locked; a member whose
    profile is refused (a bad email) is left out, for the one-by-one path."""
    profiles: dict[str, dict[str, Any]] = {}
    refused: set[str] = set()
    for event in group:
        assert event.member is not None
        external_id = event.member.external_id
        try:
            profile = profile_fields(event.member.profile, {}, now)
        except DomainError:  # a bad email: the one-by-one path reports it on its event
            refused.add(external_id)
            continue
        first = profiles.setdefault(external_id, profile)
        if first is not profile:  # later events fill what is still empty, as one by one
            for k in events.FILLABLE:
                if first.get(k) is None and profile.get(k) is not None:
                    first[k] = profile[k]
    for external_id in refused:
        profiles.pop(external_id, None)
    members = writer.members(list(profiles))
    missing = [x for x in profiles if x not in members]
    if missing:
        writer.add_members(_new_member(uow, x, profiles[x], now) for x in missing)
        members.update(writer.members(missing))
        born = [members[x]["id"] for x in missing if profiles[x].get("birthday") is not None]
        uow.members.note_birthdays_set(born, now)
    if missing and not history:
        created: list[tuple[str, str | None, dict[str, Any]]] = []
        for external_id in missing:
            row = {**_BLANK_PROFILE, **profiles[external_id], "external_id": external_id}
            row.update(created_at=now, updated_at=now, consents=row["consents"] or {})
            created.append(("member.created", external_id, {"member": member_summary(row)}))
        uow.outbox.add_many(created, now)
    for external_id, member in members.items():
        fill = {
            k: v
            for k, v in profiles[external_id].items()
            if k in events.FILLABLE and v is not None and member[k] is None
        }
        if fill and external_id not in missing:
            uow.members.update_fields(member["id"], fill, now)
    return members


_BLANK_PROFILE: dict[str, Any] = dict.fromkeys(
    ("email", "phone", "first_name", "last_name", "birthday", "locale", "consents")
) | {"status": MemberStatus.ACTIVE.value}


def _new_member(
    uow: UnitOfWork, external_id: str, profile: dict[str, Any], now: datetime
) -> dict[str, Any]:
    raw = uow.raw
    birthday = profile.get("birthday")
    return {
        "tenant_id": uow.tenant_id,
        "external_id": external_id,
        "email": profile.get("email"),
        "phone": profile.get("phone"),
        "first_name": profile.get("first_name"),
        "last_name": profile.get("last_name"),
        "birthday": birthday.isoformat() if birthday is not None and raw.sqlite else birthday,
        "locale": profile.get("locale"),
        "consents": raw.json(profile.get("consents") or {}),
        "status": profile.get("status") or MemberStatus.ACTIVE.value,
        "available": 0,
        "pending": 0,
        "lifetime_earned": 0,
        "debt": 0,
        "created_at": raw.time(now),
        "updated_at": raw.time(now),
    }


def _write_orders(
    uow: UnitOfWork,
    ctx: TenantContext,
    writer: BulkWriter,
    batch: Sequence[InboundEvent],
    indexes: list[int],
    members: dict[str, dict[str, Any]],
    results: list[EventResult | None],
    now: datetime,
    history: bool,
    multipliers: Mapping[int, Decimal],
) -> None:
    """The orders, lots, entries, inbox and outbox rows of plain orders, as tuples in each
    table's column order (``store.bulk.HISTORY_COLUMNS``): each order's entry and response are
    those ``events.process`` writes for it."""
    program, raw, tenant = ctx.program, uow.raw, uow.tenant_id
    recorded = writer.recorded_orders([_order(batch[i]).order_id for i in indexes])
    n = len(indexes)
    event_ids: list[int | None] = (
        [None] * n if history else list(writer.reserve_ids("inbox_events", n))
    )
    order_ids = writer.reserve_ids("orders", n)
    lot_ids, entry_ids = writer.reserve_ids("lots", n), writer.reserve_ids("ledger_entries", n)
    created = raw.time(now)
    dates = _LotDates(ctx, raw, now)
    orders: list[tuple[Any, ...]] = []
    lots: list[tuple[Any, ...]] = []
    entries: list[tuple[Any, ...]] = []
    inbox: list[tuple[Any, ...]] = []
    outbox: list[tuple[Any, ...]] = []
    balances = {
        x: {
            "available": m["available"],
            "pending": m["pending"],
            "lifetime_earned": m["lifetime_earned"],
        }
        for x, m in members.items()
    }
    touched: set[str] = set()
    for k, i in enumerate(indexes):
        event = batch[i]
        paid = event.payload
        assert isinstance(paid, OrderPaid) and event.member is not None
        external_id = event.member.external_id
        order, member_id = paid.order, members[external_id]["id"]
        total, base = order.total_and_base(program)
        multiplier = multipliers.get(i, ONE)  # history mode only (see _multipliers)
        points = program.points_for(base * multiplier) if paid.earn else 0
        effects: list[dict[str, Any]] = []
        note: str | None = None
        when = dates.of(event.occurred_at)
        if order.order_id in recorded:
            note = events.ALREADY_RECORDED.format(order.order_id)
        else:
            orders.append(
                (
                    order_ids[k],
                    tenant,
                    member_id,
                    order.order_id,
                    order.currency,
                    str(total),
                    str(order.shipping),
                    str(order.tax),
                    str(base),
                    dump_json([events.line_json(line) for line in order.lines]),
                    points,
                    0,
                    "paid",
                    "0",
                    "0",
                    "{}",
                    when.earned_at,
                    created,
                )
            )
            if points == 0:
                note = events.NOTHING_EARNED if paid.earn else events.HISTORY_ONLY
            else:
                d_available, d_pending = (points, 0) if when.available else (0, points)
                reason = (
                    f"order {order.order_id}: {base} {order.currency}{dates.reason}"
                    if multiplier == ONE
                    else events.earn_reason(order, base, program, multiplier)
                )
                lots.append(
                    (
                        lot_ids[k],
                        tenant,
                        member_id,
                        points,
                        points,
                        when.status,
                        when.earned_at,
                        when.available_at,
                        when.expires_at,
                    )
                )
                entries.append(
                    (
                        entry_ids[k],
                        tenant,
                        member_id,
                        _EARN,
                        points,
                        d_available,
                        d_pending,
                        points,
                        lot_ids[k],
                        order_ids[k],
                        event_ids[k],
                        reason,
                        when.earned_at,
                        created,
                    )
                )
                # Effect.to_dict() of the entry, as ledger.credit reports it
                effects.append(
                    {
                        "entry_id": entry_ids[k],
                        "kind": _EARN,
                        "points": points,
                        "available_delta": d_available,
                        "pending_delta": d_pending,
                        "reason": reason,
                        "lot": dict(when.lot),
                    }
                )
                running = balances[external_id]
                running["available"] += d_available
                running["pending"] += d_pending
                running["lifetime_earned"] += points
                touched.add(external_id)
        if history:
            results[i] = EventResult({"note": note} if note else {})
            continue
        body = events.event_body(event, external_id, effects, balances[external_id], note)
        for effect in effects:  # outbox.effect_rows: an earn entry is "points.earned"
            payload = {
                "member": external_id,
                "entry": dict(effect),
                "balances": dict(body["balances"]),
            }
            outbox.append((tenant, "points.earned", external_id, dump_json(payload), created))
        inbox.append(
            (
                event_ids[k],
                tenant,
                event.source,
                event.event_id,
                event.type,
                event.body_hash,
                dump_json(body),
                dates.stored(event.occurred_at),
                created,
            )
        )
        results[i] = EventResult(body)
    writer.insert_rows("orders", orders)
    writer.insert_rows("lots", lots)
    writer.insert_rows("ledger_entries", entries)
    writer.insert_rows("inbox_events", inbox)
    writer.insert_rows("outbox_events", outbox)
    for x in touched:  # balances changed behind the repository's back: forget what it saw
        uow.members.latest.pop(members[x]["id"], None)
    writer.add_balance_rows(
        [
            (
                balances[x]["available"] - members[x]["available"],
                balances[x]["pending"] - members[x]["pending"],
                balances[x]["lifetime_earned"] - members[x]["lifetime_earned"],
                created,
                members[x]["id"],
            )
            for x in touched
        ]
    )


_EARN = EntryKind.EARN.value


@dataclass(frozen=True, slots=True)
class _When:
    """What a lot earned at one instant stores and shows (times as the database keeps them)."""

    earned_at: Any
    status: str
    available_at: Any
    expires_at: Any
    available: bool
    lot: dict[str, Any]


class _LotDates:
    """Lot dates per distinct order time within one group (a burst repeats them)."""

    def __init__(self, ctx: TenantContext, raw: Any, now: datetime) -> None:
        self.ctx, self.raw, self.now = ctx, raw, now
        self._when: dict[datetime, _When] = {}
        program = ctx.program
        # what ``events.earn_reason`` writes after the order's base and currency at rate 1
        self.reason = f" x {program.points_per_unit} points ({program.rounding.value})"

    def of(self, occurred_at: datetime) -> _When:
        when = self._when.get(occurred_at)
        if when is None:
            earned_at = min(occurred_at, self.now)
            status, available_at, expires_at = lot_dates(self.ctx, earned_at, self.now)
            time = self.raw.time
            when = self._when[occurred_at] = _When(
                time(earned_at),
                status.value,
                time(available_at),
                time(expires_at),
                status is LotStatus.AVAILABLE,
                lot_view(status, available_at, expires_at),
            )
        return when

    def stored(self, moment: datetime) -> Any:
        return self.raw.time(moment)


def _order(event: InboundEvent) -> Any:
    assert isinstance(event.payload, OrderPaid)
    return event.payload.order


def _paid(event: InboundEvent) -> OrderPaid:
    assert isinstance(event.payload, OrderPaid)
    return event.payload
