"""Periodic ledger jobs. Idempotent and catch-up safe: what was due while we were down happens
once on the next run, with the ledger dated when it was due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from loyalty.domain.program import ExpiryKind, Program
from loyalty.services import ledger
from loyalty.store import jobs as job_sql
from loyalty.store.uow import Database


@dataclass(frozen=True, slots=True)
class JobReport:
    released: int
    expired: int
    expired_inactive: int
    debts_settled: int
    expiry_notices: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "released": self.released,
            "expired": self.expired,
            "expired_inactive": self.expired_inactive,
            "debts_settled": self.debts_settled,
            "expiry_notices": self.expiry_notices,
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


def run_due_jobs(db: Database, now: datetime, tenant_id: int | None = None) -> JobReport:
    """Release first, so that points whose window closed can expire or be spent in order."""
    released, settled = release_due(db, now, tenant_id)
    return JobReport(
        released=released,
        expired=expire_due(db, now, tenant_id),
        expired_inactive=expire_inactive(db, now, tenant_id),
        debts_settled=settled,
        expiry_notices=notify_expiring(db, now, tenant_id),
    )
