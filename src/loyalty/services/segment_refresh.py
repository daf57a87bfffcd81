"""Materialising segments: who is in each one now, diffed against who was, so that only
changes write rows (memberships, entered/left history, outbox events). Running it twice in a
row changes nothing the second time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loyalty.domain.segments.fields import rule_values
from loyalty.domain.segments.rules import RuleEvaluationError, compile_rule
from loyalty.services.segments import BUILTINS, RULE, STATIC, Segment, apply_changes, find, repo
from loyalty.store.uow import Database, UnitOfWork


@dataclass(frozen=True, slots=True)
class RefreshReport:
    segment: str
    entered: int
    left: int
    members: int
    undecided: int = 0  # members the rule could not be decided for (e.g. a null field)
    error: str | None = None  # the first such reason

    def to_dict(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "id": self.segment,
            "entered": self.entered,
            "left": self.left,
            "members": self.members,
            "undecided": self.undecided,
        }
        if self.error:
            report["undecided_reason"] = self.error
        return report


def _rule_targets(uow: UnitOfWork, segment: Segment, now: datetime) -> tuple[set[int], int, str]:
    rule = compile_rule(segment.rule or "")
    targets: set[int] = set()
    undecided, first_error = 0, ""
    for row in repo(uow).facts():
        try:
            if rule.matches(rule_values(row, rule.fields), now):
                targets.add(row["member_id"])
        except RuleEvaluationError as error:
            undecided += 1
            first_error = first_error or f"member '{row['external_id']}': {error}"
    return targets, undecided, first_error


def materialise(uow: UnitOfWork, segment: Segment, now: datetime) -> RefreshReport:
    """Bring one segment's memberships up to date inside ``uow``."""
    store = repo(uow)
    store.lock(segment.key)
    current = store.member_ids(segment.key)
    if segment.kind == STATIC:
        return RefreshReport(segment.key, 0, 0, len(current))
    undecided, error = 0, ""
    if segment.kind == RULE:
        targets, undecided, error = _rule_targets(uow, segment, now)
    else:
        assert segment.column is not None and segment.value is not None
        targets = store.profiled(segment.column, segment.value)
    entered, left = targets - current, current - targets
    apply_changes(uow, segment, entered, left, now)
    return RefreshReport(
        segment.key, len(entered), len(left), len(targets), undecided, error or None
    )


def refresh_segment(db: Database, tenant_id: int, key: str, now: datetime) -> RefreshReport:
    with db.transaction(tenant_id) as uow:
        return materialise(uow, find(uow, key), now)


def refresh_segments(db: Database, tenant_id: int, now: datetime) -> list[RefreshReport]:
    """Every rule and built-in segment of the tenant, one transaction each."""
    with db.read(tenant_id) as uow:
        keys = [row["key"] for row in repo(uow).all() if row["kind"] == RULE]
    return [refresh_segment(db, tenant_id, key, now) for key in [*keys, *BUILTINS]]
