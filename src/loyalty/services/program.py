"""Programme settings use cases."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.domain.errors import InvalidSettings
from loyalty.domain.program import Program
from loyalty.services.context import TenantContext
from loyalty.store.uow import UnitOfWork


def load_context(uow: UnitOfWork, actor: str = "system") -> TenantContext:
    settings, _version, timezone = uow.programs.get()
    return TenantContext(uow.tenant_id, Program.from_dict(settings), ZoneInfo(timezone), actor)


def get_program(uow: UnitOfWork) -> dict[str, Any]:
    settings, version, timezone = uow.programs.get()
    return {**Program.from_dict(settings).to_dict(), "version": version, "timezone": timezone}


def put_program(
    uow: UnitOfWork, ctx: TenantContext, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Replace the settings; the currency cannot change once a programme has run."""
    current = Program.from_dict(uow.programs.get()[0])
    merged = {**current.to_dict(), **data, "currency": data.get("currency", current.currency)}
    program = Program.from_dict(merged)
    if program.currency != current.currency and uow.orders.exists():
        raise InvalidSettings(
            "the currency cannot change once orders have been recorded", field="currency"
        )
    version = uow.programs.put(program.to_dict(), now)
    uow.audit(ctx.actor, "program.updated", None, program.to_dict(), now)
    _, _, timezone = uow.programs.get()
    return {**program.to_dict(), "version": version, "timezone": timezone}
