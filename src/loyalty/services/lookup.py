"""Finding members inside a unit of work (locked for writing where the database needs it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping

from loyalty.domain.errors import MemberNotFound
from loyalty.services.outbox import emit
from loyalty.services.views import member_summary
from loyalty.store.uow import UnitOfWork


def require_member(
    uow: UnitOfWork, external_id: str, *, lock: bool = True, field: str = "external_id"
) -> RowMapping:
    member = uow.members.get(external_id, lock=lock)
    if member is None:
        raise MemberNotFound(f"no member with external id '{external_id}'", field=field)
    return member


def ensure_member(
    uow: UnitOfWork, external_id: str, fields: dict[str, Any], now: datetime
) -> tuple[RowMapping, bool]:
    """The member named by an event, created on first sight; returns (row, created)."""
    member = uow.members.get(external_id, lock=True)
    if member is not None:
        return member, False
    created = uow.members.add(external_id, fields, now)
    if created is not None:
        emit(uow, "member.created", external_id, {"member": member_summary(created)}, now)
        return created, True
    member = uow.members.get(external_id, lock=True)  # created meanwhile by a concurrent event
    assert member is not None
    return member, False
