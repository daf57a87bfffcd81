"""Periodic ledger jobs. Idempotent and catch-up safe: what was due while we were down happens
once on the next run, with the ledger dated when it was due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from loyalty.domain.program import ExpiryKind, Program
from loyalty.services import checkout, ledger, memberships, referrals, tiers
from loyalty.services.birthdays import raise_birthdays
from loyalty.services.coupons import expire_due_coupons
from loyalty.services.program import load_context
from loyalty.store import jobs as job_sql
from loyalty.store.checkouts import tenants_with_due_checkouts
from loyalty.store.referrals import due_referrals
from loyalty.store.uow import Database


@dataclass(frozen=True, slots=True)
class JobReport:
    released: int
    expired: int
    expired_inactive: int
    debts_settled: int
    expiry_notices: int = 0
    referrals_qualified: int = 0
    tier_changes: int = 0
    memberships_expired: int = 0
    coupons_expired: int = 0
    checkouts_released: int = 0
    birthday_events: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "coupons_expired": self.coupons_expired,
            "released": self.released,
            "expired": self.expired,
            "expired_inactive": self.expired_inactive,
            "debts_settled": self.debts_settled,
            "expiry_notices": self.expiry_notices,
            "referrals_qualified": self.referrals_qualified,
            "tier_changes": self.tier_changes,
            "memberships_expired": self.memberships_expired,
            "checkouts_released": self.checkouts_released,
            "birthday_events": self.birthday_events,
        }


def release_due(db: Database, now: datetime, tenant_id: int | None = None) -> tuple[int, int]:
    released = settled = 0
    while True:
        count, in_debt = job_sql.release_chunk(db, now, tenant_id)
        for member_tenant, member_id in in_debt:
            with db.transaction(member_tenant) as uow:
                uow.members.lock_many([member_id])
                settled += ledger.settle_debt(uow, member_id)
        released += count
        if count == 0:
            return released, settled


def expire_due(db: Database, now: datetime, tenant_id: int | None = None) -> int:
    expired = 0
    while count := job_sql.expire_chunk(db, now, tenant_id):
        expired += count
    return expired


def expire_inactive(db: Database, now: datetime, tenant_id: int | None = None) -> int:
    expired = 0
    for program_tenant, settings in job_sql.inactivity_programs(db.engine, tenant_id):
        cutoff = Program.from_dict(settings).expiry.idle_cutoff(now)
        if cutoff is None:
            continue
        while count := job_sql.expire_inactive_chunk(db, now, program_tenant, cutoff):
            expired += count
    return expired


def notify_expiring(db: Database, now: datetime, tenant_id: int | None = None) -> int:
    """Announce points that expire within each programme's ``expiring_soon_days`` (once)."""
    members = 0
    for program_tenant, settings in job_sql.all_programs(db.engine, tenant_id):
        program = Program.from_dict(settings)
        if program.expiry.kind in (ExpiryKind.NEVER, ExpiryKind.INACTIVITY):
            continue
        until = now + timedelta(days=program.expiring_soon_days)
        members += job_sql.notify_expiring(db, now, program_tenant, until)
    return members


def qualify_referrals(db: Database, now: datetime, tenant_id: int | None = None) -> int:
    """Referrals whose friend's first order cleared its return window: the referrer earns."""
    qualified, seen = 0, set[int]()
    while True:
        with db.engine.connect() as conn:
            due = [d for d in due_referrals(conn, now, 500, tenant_id) if d[1] not in seen]
        if not due:
            return qualified
        for referral_tenant, referral_id in due:
            seen.add(referral_id)
            with db.transaction(referral_tenant) as uow:
                ctx = load_context(uow, actor="jobs")
                qualified += referrals.qualify(uow, ctx, referral_id, now)


def release_due_checkouts(db: Database, now: datetime, tenant_id: int | None = None) -> int:
    """Give back the codes and points of checkouts whose hold ran out (a chunk per transaction)."""
    released = 0
    for checkout_tenant in tenants_with_due_checkouts(db.engine, now, tenant_id):
        while True:
            with db.transaction(checkout_tenant) as uow:
                count = checkout.release_due(uow, now)
            released += count
            if count == 0:
                break
    return released


def run_due_jobs(db: Database, now: datetime, tenant_id: int | None = None) -> JobReport:
    """Release first, so that points whose window closed can expire or be spent in order.
    Referrals last: the referrer's points are dated when they were due and start available.
    Memberships lapse before tier reviews (benefits are read from both). Expired checkouts go
    before expiry too: points they give back may be due to expire."""
    checkouts_released = release_due_checkouts(db, now, tenant_id)
    released, settled = release_due(db, now, tenant_id)
    lapsed = memberships.expire_lapsed(db, now, tenant_id)
    return JobReport(
        tier_changes=tiers.review_due(db, now, tenant_id),
        memberships_expired=lapsed,
        checkouts_released=checkouts_released,
        released=released,
        expired=expire_due(db, now, tenant_id),
        expired_inactive=expire_inactive(db, now, tenant_id),
        debts_settled=settled,
        expiry_notices=notify_expiring(db, now, tenant_id),
        referrals_qualified=qualify_referrals(db, now, tenant_id),
        coupons_expired=expire_due_coupons(db, now, tenant_id),
        birthday_events=raise_birthdays(db, now, tenant_id),
    )
