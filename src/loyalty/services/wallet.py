"""The cashback wallet: store credit in the programme's currency, its own money ledger.

Every movement is an append-only entry with a reason and a reference; the reference makes a
movement idempotent (the same kind and reference again returns the first entry, or is a
conflict when the amount differs). The balance is cached on the wallet row, changed only
here, with the member row locked first. Spending and debits never take it below zero; only a
refund taking back cashback the member already spent can, under the ``negative_balance``
clawback policy (``reverse_cashback``): the wallet then owes, and later credits repay it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import RowMapping

from loyalty.domain.errors import (
    InsufficientCredit,
    ValidationFailed,
    WalletReferenceConflict,
)
from loyalty.domain.ledger import plan_credit_reversal
from loyalty.domain.money import quantum
from loyalty.services.context import TenantContext
from loyalty.services.lookup import require_member
from loyalty.store.uow import UnitOfWork

CREDIT = "credit"
DEBIT = "debit"
REVERSE = "reverse"  # cashback taken back by a refund or cancellation


def credit(
    uow: UnitOfWork,
    ctx: TenantContext,
    member_id: int,
    amount: Decimal,
    reason: str,
    reference: str,
    now: datetime,
) -> dict[str, Any]:
    """Add ``amount`` of store credit; idempotent by ``reference``."""
    return _move(uow, ctx, member_id, CREDIT, amount, reason, reference, now, {})


def debit(
    uow: UnitOfWork,
    ctx: TenantContext,
    member_id: int,
    amount: Decimal,
    reason: str,
    reference: str,
    now: datetime,
) -> dict[str, Any]:
    """Spend ``amount`` of store credit; refuses to overdraw; idempotent by ``reference``."""
    return _move(uow, ctx, member_id, DEBIT, amount, reason, reference, now, {})


def credit_from_rule(
    uow: UnitOfWork,
    ctx: TenantContext,
    member_id: int,
    amount: Decimal,
    reason: str,
    reference: str,
    now: datetime,
    *,
    rule_id: int,
    rule_version: int,
    event_pk: int | None,
    order_pk: int | None = None,
) -> dict[str, Any]:
    """Cashback an earning rule gave: a credit that names the rule version, the event and the
    order (whose refund takes it back, ``reverse_cashback``)."""
    extra = {
        "rule_id": rule_id,
        "rule_version": rule_version,
        "event_pk": event_pk,
        "order_pk": order_pk,
    }
    return _move(uow, ctx, member_id, CREDIT, amount, reason, reference, now, extra)


def reverse_cashback(
    uow: UnitOfWork,
    ctx: TenantContext,
    member_id: int,
    credit_entry: RowMapping,
    amount: Decimal,
    reason: str,
    reference: str,
    now: datetime,
    *,
    event_pk: int | None,
) -> dict[str, Any]:
    """Take back ``amount`` of a cashback credit; idempotent by ``reference``.

    When the wallet no longer holds it (the member spent the credit) the programme's clawback
    policy decides, as it does for points (``loyalty.domain.ledger.plan_credit_reversal``):
    ``negative_balance`` takes it all and the wallet owes the rest (a negative balance that
    later credits repay; nothing can be spent meanwhile); ``other_points`` and ``write_off``
    take what the wallet holds and write the rest off. The entry's ``meta`` says which.
    """
    currency = ctx.program.currency
    amount = amount.quantize(quantum(currency))
    if uow.members.get_by_id(member_id, lock=True) is None:  # lock, then check, then write
        raise ValidationFailed(f"no member with id {member_id}", field="member_id")
    previous = uow.wallet.entry_by_reference(member_id, REVERSE, reference)
    if previous is not None:
        return {**entry_view(previous), "replayed": True}
    wallet = uow.wallet.balance(member_id)
    balance = Decimal(0) if wallet is None else wallet["balance"]
    plan = plan_credit_reversal(amount, balance, ctx.program.clawback)
    after = balance - plan.taken
    meta: dict[str, Any] = {"reverses_entry": credit_entry["id"], "amount": str(amount)}
    if plan.taken != amount or plan.owed:
        meta["clawback"] = ctx.program.clawback.value
    if plan.owed:
        meta["owed"] = str(plan.owed)
    if plan.written_off:
        meta["written_off"] = str(plan.written_off)
    uow.wallet.set_balance(member_id, currency, after, now, exists=wallet is not None)
    row = {
        "kind": REVERSE,
        "amount": -plan.taken,
        "balance_after": after,
        "currency": currency,
        "reason": reason[:500],
        "reference": reference,
        "created_at": now,
        "rule_id": credit_entry["rule_id"],
        "rule_version": credit_entry["rule_version"],
        "event_pk": event_pk,
        "order_pk": credit_entry["order_pk"],
        "meta": meta,
    }
    entry_id = uow.wallet.add_entry(member_id=member_id, **row)
    return {**entry_view({"id": entry_id, **row}), "replayed": False}


def spend(
    uow: UnitOfWork,
    ctx: TenantContext,
    external_id: str,
    amount: Decimal,
    reference: str,
    now: datetime,
) -> dict[str, Any]:
    """The API's spend: debit a member named by external id, then show the wallet."""
    member = require_member(uow, external_id)
    entry = debit(uow, ctx, member["id"], amount, f"spent: {reference}", reference, now)
    return {"entry": entry, "wallet": _summary(uow, ctx, member["id"])}


def wallet_view(
    uow: UnitOfWork, ctx: TenantContext, external_id: str, limit: int = 50
) -> dict[str, Any]:
    member = require_member(uow, external_id, lock=False)
    entries = [entry_view(row) for row in uow.wallet.entries(member["id"], None, limit)]
    return {"member": external_id, **_summary(uow, ctx, member["id"]), "entries": entries}


def _summary(uow: UnitOfWork, ctx: TenantContext, member_id: int) -> dict[str, Any]:
    row = uow.wallet.balance(member_id)
    balance = Decimal(0) if row is None else row["balance"]
    currency = ctx.program.currency if row is None else row["currency"]
    return {"currency": currency, "balance": str(balance.quantize(quantum(currency)))}


def _move(
    uow: UnitOfWork,
    ctx: TenantContext,
    member_id: int,
    kind: str,
    amount: Decimal,
    reason: str,
    reference: str,
    now: datetime,
    extra: dict[str, Any],
) -> dict[str, Any]:
    currency = ctx.program.currency
    amount = _checked_amount(amount, currency)
    if not reference or len(reference) > 200:
        raise ValidationFailed("reference must be 1-200 characters", field="reference")
    if uow.members.get_by_id(member_id, lock=True) is None:  # lock, then check, then write
        raise ValidationFailed(f"no member with id {member_id}", field="member_id")
    previous = uow.wallet.entry_by_reference(member_id, kind, reference)
    if previous is not None:
        return _replay(previous, amount, reference)
    wallet = uow.wallet.balance(member_id)
    balance = Decimal(0) if wallet is None else wallet["balance"]
    signed = amount if kind == CREDIT else -amount
    after = balance + signed
    if after < 0:
        raise InsufficientCredit(
            f"the wallet holds {balance.quantize(quantum(currency))} {currency}, "
            f"not {amount} {currency}",
            field="amount",
            balance=str(balance),
        )
    uow.wallet.set_balance(member_id, currency, after, now, exists=wallet is not None)
    entry_id = uow.wallet.add_entry(
        member_id=member_id,
        kind=kind,
        amount=signed,
        balance_after=after,
        currency=currency,
        reason=reason[:500],
        reference=reference,
        created_at=now,
        **extra,
    )
    row = {
        "id": entry_id,
        "kind": kind,
        "amount": signed,
        "balance_after": after,
        "currency": currency,
        "reason": reason[:500],
        "reference": reference,
        "created_at": now,
        **extra,
    }
    return {**entry_view(row), "replayed": False}


def _replay(previous: RowMapping, amount: Decimal, reference: str) -> dict[str, Any]:
    if abs(previous["amount"]) != amount:
        raise WalletReferenceConflict(
            f"reference '{reference}' was used for {abs(previous['amount'])}, not {amount}",
            field="reference",
        )
    return {**entry_view(previous), "replayed": True}


def _checked_amount(amount: Decimal, currency: str) -> Decimal:
    if not amount.is_finite() or amount <= 0:
        raise ValidationFailed("amount must be more than 0", field="amount")
    step = quantum(currency)
    if amount != amount.quantize(step):
        raise ValidationFailed(f"amount has more decimals than {currency} allows", field="amount")
    return amount.quantize(step)


def entry_view(row: Any) -> dict[str, Any]:
    currency = row["currency"]
    step = quantum(currency)
    out = {
        "id": row["id"],
        "kind": row["kind"],
        "amount": str(Decimal(row["amount"]).quantize(step)),
        "balance_after": str(Decimal(row["balance_after"]).quantize(step)),
        "currency": currency,
        "reason": row["reason"],
        "reference": row["reference"],
        "created_at": row["created_at"].isoformat(),
    }
    if row.get("rule_id") is not None:
        out["rule"] = {"id": str(row["rule_id"]), "version": row["rule_version"]}
    if row.get("meta"):
        out["meta"] = row["meta"]
    return out
