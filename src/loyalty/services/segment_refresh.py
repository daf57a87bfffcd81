"""Materialising segments: who is in each one now, diffed against who was, so that only
changes write rows (memberships, entered/left history, outbox events). Running it twice in a
row changes nothing the second time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loyalty.domain.errors import SegmentNotFound
from loyalty.domain.segments.fields import rule_values, source_columns
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


@dataclass(frozen=True, slots=True)
class Targets:
    """Who should be in a segment, computed from a read snapshot."""

    rule: str | None  # the rule they were computed with
    members: frozenset[int]
    undecided: int = 0
    error: str | None = None


def targets(uow: UnitOfWork, segment: Segment, now: datetime) -> Targets | None:
    """The members a rule or built-in segment should have now; None for a static one."""
    if segment.kind == STATIC:
        return None
    if segment.kind != RULE:
        assert segment.column is not None and segment.value is not None
        return Targets(None, frozenset(repo(uow).profiled(segment.column, segment.value)))
    rule = compile_rule(segment.rule or "")
    names = sorted(rule.fields)
    found: set[int] = set()
    undecided, first_error = 0, None
    # Members with the same values get the same answer: a rule over a few fields is run once
    # per distinct combination, not once per member.
    decided: dict[tuple[Any, ...], bool | str] = {}
    for row in repo(uow).facts(source_columns(names)):
        values = rule_values(row, names)
        key = tuple(_hashable(values[n]) for n in names)
        answer = decided.get(key)
        if answer is None:
            try:
                answer = rule.matches(values, now)
            except RuleEvaluationError as error:
                answer = str(error)
            decided[key] = answer
        if answer is True:
            found.add(row["member_id"])
        elif answer is not False:
            undecided += 1
            first_error = first_error or f"member '{row['external_id']}': {answer}"
    return Targets(segment.rule, frozenset(found), undecided, first_error)


def _hashable(value: Any) -> Any:
    return tuple(sorted(value.items())) if isinstance(value, dict) else value


def apply_targets(
    uow: UnitOfWork, segment: Segment, planned: Targets | None, now: datetime
) -> RefreshReport:
    """Diff the planned members against the stored ones and write only the changes."""
    store = repo(uow)
    store.lock(segment.key)
    current = store.member_ids(segment.key)
    if planned is None:
        return RefreshReport(segment.key, 0, 0, len(current))
    entered, left = planned.members - current, current - planned.members
    apply_changes(uow, segment, set(entered), left, now)
    return RefreshReport(
        segment.key,
        len(entered),
        len(left),
        len(planned.members),
        planned.undecided,
        planned.error,
    )


def materialise(uow: UnitOfWork, segment: Segment, now: datetime) -> RefreshReport:
    """Bring one segment's memberships up to date inside ``uow`` (computed and written in
    the same transaction)."""
    return apply_targets(uow, segment, targets(uow, segment, now), now)


def plan(db: Database, tenant_id: int, segment: Segment, now: datetime) -> Targets | None:
    """``targets`` in a read transaction, so writers are not held up while rules run."""
    with db.read(tenant_id) as uow:
        return targets(uow, segment, now)


def refresh_segment(db: Database, tenant_id: int, key: str, now: datetime) -> RefreshReport:
    """Compute from a read snapshot, then write the difference in a short transaction (again
    in it, should the rule have changed in between)."""
    with db.read(tenant_id) as uow:
        segment = find(uow, key)
        planned = targets(uow, segment, now)
    with db.transaction(tenant_id) as uow:
        segment = find(uow, key)
        if planned is not None and segment.kind == RULE and planned.rule != segment.rule:
            planned = targets(uow, segment, now)
        return apply_targets(uow, segment, planned, now)


def refresh_segments(db: Database, tenant_id: int, now: datetime) -> list[RefreshReport]:
    """Every rule and built-in segment of the tenant, one write transaction each."""
    with db.read(tenant_id) as uow:
        keys = [row["key"] for row in repo(uow).all() if row["kind"] == RULE]
    reports = []
    for key in [*keys, *BUILTINS]:
        try:
            reports.append(refresh_segment(db, tenant_id, key, now))
        except SegmentNotFound:
            continue  # deleted meanwhile
    return reports
