"""Segments: rule (CEL over the member and their profile), static lists, and the built-in RFM
and lifecycle segments. Members are materialised (``segment_refresh``); earning rules, rewards
and promotions ask ``member_segments``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loyalty.analytics.lifecycle import STAGES
from loyalty.analytics.rfm import SEGMENTS as RFM_SEGMENTS
from loyalty.domain.errors import (
    MemberNotFound,
    SegmentExists,
    SegmentNotFound,
    SegmentReadOnly,
    ValidationFailed,
)
from loyalty.domain.segments.keys import builtin_key, check_key, slug
from loyalty.domain.segments.rules import compile_rule
from loyalty.services.lookup import require_member
from loyalty.store.segments import SegmentRepository
from loyalty.store.uow import UnitOfWork

RULE, STATIC = "rule", "static"


@dataclass(frozen=True, slots=True)
class Segment:
    """A segment's definition, stored or built in."""

    key: str
    name: str
    kind: str  # rule | static | rfm | lifecycle
    description: str | None = None
    rule: str | None = None
    column: str | None = None  # built-ins: the profile column and the value it must have
    value: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def builtin(self) -> bool:
        return self.kind not in (RULE, STATIC)


def _builtins() -> dict[str, Segment]:
    found = [
        Segment(builtin_key("rfm", s.value), s.value, "rfm", column="rfm_segment", value=s.value)
        for s in RFM_SEGMENTS
    ] + [
        Segment(
            builtin_key("lifecycle", s.value),
            s.value.replace("_", " ").capitalize(),
            "lifecycle",
            column="lifecycle_stage",
            value=s.value,
        )
        for s in STAGES
    ]
    return {s.key: s for s in found}


BUILTINS = _builtins()


def repo(uow: UnitOfWork) -> SegmentRepository:
    return SegmentRepository(uow.conn, uow.tenant_id)


def _from_row(row: Any) -> Segment:
    return Segment(
        row["key"],
        row["name"],
        row["kind"],
        row["description"],
        row["rule"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def find(uow: UnitOfWork, key: str) -> Segment:
    if key in BUILTINS:
        return BUILTINS[key]
    row = repo(uow).get(key)
    if row is None:
        raise SegmentNotFound(f"no segment '{key}'", field="id")
    return _from_row(row)


def view(segment: Segment, members: int) -> dict[str, Any]:
    return {
        "id": segment.key,
        "name": segment.name,
        "kind": segment.kind,
        "description": segment.description,
        "rule": segment.rule,
        "builtin": segment.builtin,
        "members": members,
        "created_at": segment.created_at.isoformat() if segment.created_at else None,
        "updated_at": segment.updated_at.isoformat() if segment.updated_at else None,
    }


def define_segment(data: dict[str, Any]) -> Segment:
    """A checked definition of a new rule or static segment (not stored yet)."""
    kind = data["kind"]
    key = check_key(data.get("id") or slug(data["name"]))
    rule = (data.get("rule") or "").strip() or None
    if kind == RULE:
        if rule is None:
            raise ValidationFailed("a rule segment needs a rule", field="rule")
        compile_rule(rule)
    elif rule is not None:
        raise ValidationFailed("only rule segments have a rule", field="rule")
    return Segment(key, data["name"], kind, data.get("description"), rule)


def add_segment(uow: UnitOfWork, segment: Segment, now: datetime) -> Segment:
    values = {
        "key": segment.key,
        "name": segment.name,
        "description": segment.description,
        "kind": segment.kind,
        "rule": segment.rule,
    }
    row = repo(uow).add(values, now)
    if row is None:
        raise SegmentExists(
            f"a segment with id '{segment.key}' exists; choose another id", field="id"
        )
    uow.audit("api", "segment.created", segment.key, values, now)
    return _from_row(row)


def create_segment(uow: UnitOfWork, data: dict[str, Any], now: datetime) -> Segment:
    """Store a rule or static segment; the caller materialises a rule segment next."""
    return add_segment(uow, define_segment(data), now)


def list_segments(uow: UnitOfWork) -> list[dict[str, Any]]:
    counts = repo(uow).counts()
    stored = [_from_row(row) for row in repo(uow).all()]
    return [view(s, counts.get(s.key, 0)) for s in [*stored, *BUILTINS.values()]]


def get_segment(uow: UnitOfWork, key: str) -> dict[str, Any]:
    segment = find(uow, key)
    return view(segment, repo(uow).count(key))


def _writable(uow: UnitOfWork, key: str) -> Segment:
    segment = find(uow, key)
    if segment.builtin:
        raise SegmentReadOnly(f"'{key}' is a built-in segment and cannot be changed", field="id")
    return segment


def update_segment(
    uow: UnitOfWork, key: str, data: dict[str, Any], now: datetime
) -> tuple[Segment, bool]:
    """Change name, description or rule; True when the rule changed (re-materialise)."""
    segment = _writable(uow, key)
    values: dict[str, Any] = {k: data[k] for k in ("name", "description") if k in data}
    if "name" in values and not values["name"]:
        raise ValidationFailed("name must not be empty", field="name")
    rule_changed = False
    if "rule" in data:
        if segment.kind != RULE:
            raise ValidationFailed("only rule segments have a rule", field="rule")
        rule = (data["rule"] or "").strip()
        compile_rule(rule)
        rule_changed = rule != segment.rule
        values["rule"] = rule
    if values:
        repo(uow).update(key, values, now)
        uow.audit("api", "segment.updated", key, values, now)
    return find(uow, key), rule_changed


def delete_segment(uow: UnitOfWork, key: str, now: datetime) -> int:
    """Every member leaves (history and ``segment.left`` events), then the segment goes."""
    segment = _writable(uow, key)
    store = repo(uow)
    store.lock(key)
    current = store.member_ids(key)
    apply_changes(uow, segment, set(), current, now)
    store.delete(key)
    uow.audit("api", "segment.deleted", key, {"members": len(current)}, now)
    return len(current)


def apply_changes(
    uow: UnitOfWork, segment: Segment, entered: set[int], left: set[int], now: datetime
) -> None:
    """Memberships, history rows and ``segment.entered`` / ``segment.left`` outbox events,
    in the caller's transaction."""
    if not entered and not left:
        return
    entered_ids, left_ids = sorted(entered), sorted(left)
    repo(uow).apply(segment.key, entered_ids, left_ids, now)
    external = repo(uow).external_ids([*entered_ids, *left_ids])
    about = {"id": segment.key, "name": segment.name, "kind": segment.kind}
    at = now.isoformat()
    events: list[tuple[str, str | None, dict[str, Any]]] = [
        (type_, external[m], {"segment": about, "member": external[m], "at": at})
        for type_, ids in (("segment.entered", entered_ids), ("segment.left", left_ids))
        for m in ids
    ]
    uow.outbox.add_many(events, now)


def _static(uow: UnitOfWork, key: str) -> Segment:
    segment = _writable(uow, key)
    if segment.kind != STATIC:
        raise SegmentReadOnly(
            f"'{key}' is a rule segment: its members come from its rule", field="id"
        )
    return segment


def _member_ids(uow: UnitOfWork, external_ids: list[str]) -> set[int]:
    wanted = list(dict.fromkeys(external_ids))
    found = repo(uow).ids_of(wanted)
    missing = [e for e in wanted if e not in found]
    if missing:
        raise MemberNotFound(
            f"no member with external id {', '.join(repr(m) for m in missing[:10])}",
            field="members",
        )
    return set(found.values())


def change_members(
    uow: UnitOfWork, key: str, external_ids: list[str], now: datetime, *, add: bool
) -> dict[str, Any]:
    """Add members to (or remove them from) a static segment; already there (or already gone)
    is not an error, so a retry changes nothing."""
    segment = _static(uow, key)
    ids = _member_ids(uow, external_ids)
    store = repo(uow)
    store.lock(key)
    current = store.member_ids(key)
    entered, left = (ids - current, set()) if add else (set(), ids & current)
    apply_changes(uow, segment, entered, left, now)
    return {
        "id": key,
        "added": len(entered),
        "removed": len(left),
        "members": len(current) + len(entered) - len(left),
    }


def members_page(
    uow: UnitOfWork, key: str, after: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    find(uow, key)
    rows = repo(uow).members_page(key, after, limit + 1)
    items = [member_row(r) for r in rows[:limit]]
    return items, rows[limit - 1]["member_id"] if len(rows) > limit else None


def history_page(
    uow: UnitOfWork, key: str, after: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Who entered and left the segment, and when, oldest first."""
    find(uow, key)
    rows = repo(uow).history(key, after, limit + 1)
    items = [
        {"member": r["external_id"], "change": r["change"], "at": r["at"].isoformat()}
        for r in rows[:limit]
    ]
    return items, rows[limit - 1]["id"] if len(rows) > limit else None


def member_row(row: Any) -> dict[str, Any]:
    return {
        "external_id": row["external_id"],
        "email": row["email"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "status": row["status"],
        "entered_at": row["entered_at"].isoformat(),
    }


def member_segments(uow: UnitOfWork, member_id: int) -> set[str]:
    """Ids of the segments the member is in now (as last materialised): for earning rules,
    rewards and promotions (CEL: ``"rfm:champions" in segments``)."""
    return {row["segment_key"] for row in repo(uow).of_member(member_id)}


def member_segments_view(uow: UnitOfWork, external_id: str) -> dict[str, Any]:
    member = require_member(uow, external_id, lock=False)
    names = {row["key"]: row["name"] for row in repo(uow).all()}
    names.update({key: s.name for key, s in BUILTINS.items()})
    items = [
        {
            "id": row["segment_key"],
            "name": names.get(row["segment_key"], row["segment_key"]),
            "entered_at": row["entered_at"].isoformat(),
        }
        for row in repo(uow).of_member(member["id"])
    ]
    return {"member": external_id, "segments": items}
