"""What every use case needs to know about the caller: the tenant, its programme, the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from loyalty.domain.program import Program


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock for tests and for ``loyalty jobs run --now``."""

    moment: datetime

    def now(self) -> datetime:
        return self.moment


@dataclass(frozen=True, slots=True)
class TenantContext:
    tenant_id: int
    program: Program
    timezone: ZoneInfo
    actor: str = "api"
