"""``loyalty check``: every ledger invariant for every member."""

from __future__ import annotations

from dataclasses import dataclass, field

from loyalty.domain.invariants import Violation, validate_member
from loyalty.store.checks import member_summaries
from loyalty.store.uow import Database


@dataclass
class CheckReport:
    members: int = 0
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def check_ledger(db: Database, tenant_id: int | None = None) -> CheckReport:
    report = CheckReport()
    for summary in member_summaries(db.engine, tenant_id):
        report.members += 1
        report.violations.extend(validate_member(summary))
    return report
