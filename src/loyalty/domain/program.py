"""Programme settings: how money becomes points, when points unlock, expire and are clawed back."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.domain.errors import InvalidSettings
from loyalty.domain.money import check_currency


class Rounding(StrEnum):
    FLOOR = "floor"
    HALF_UP = "half_up"
    CEILING = "ceiling"


_DECIMAL_ROUNDING = {
    Rounding.FLOOR: ROUND_FLOOR,
    Rounding.HALF_UP: ROUND_HALF_UP,
    Rounding.CEILING: ROUND_CEILING,
}


class ExpiryKind(StrEnum):
    NEVER = "never"
    DAYS_AFTER_EARN = "days_after_earn"
    END_OF_MONTH_AFTER = "end_of_month_after"
    END_OF_YEAR_AFTER = "end_of_year_after"
    INACTIVITY = "inactivity"


class CodeRefundPolicy(StrEnum):
    """Whether a refund gives a single-use promotion code back to the customer."""

    KEEP = "keep"  # a used code stays used
    RELEASE_ON_FULL_REFUND = "release_on_full_refund"
    RELEASE_ON_ANY_REFUND = "release_on_any_refund"


class Clawback(StrEnum):
    """What happens when a refund reverses points the member has already spent."""

    NEGATIVE_BALANCE = "negative_balance"  # take what is available, owe the rest
    OTHER_POINTS = "other_points"  # take from other available points, write off the rest
    WRITE_OFF = "write_off"  # take nothing else; the spent part is written off


@dataclass(frozen=True, slots=True)
class ExpiryPolicy:
    kind: ExpiryKind = ExpiryKind.NEVER
    days: int | None = None
    months: int | None = None

    def __post_init__(self) -> None:
        needs_days = self.kind in (ExpiryKind.DAYS_AFTER_EARN, ExpiryKind.INACTIVITY)
        needs_months = self.kind in (ExpiryKind.END_OF_MONTH_AFTER, ExpiryKind.END_OF_YEAR_AFTER)
        if needs_days and (self.days is None or self.days < 1):
            raise InvalidSettings(f"expiry '{self.kind}' needs days >= 1", field="expiry.days")
        if needs_months and (self.months is None or self.months < 0):
            raise InvalidSettings(f"expiry '{self.kind}' needs months >= 0", field="expiry.months")

    def lot_expires_at(self, available_at: datetime, tz: ZoneInfo) -> datetime | None:
        """When a lot that became available at ``available_at`` expires (None = never).

        Inactivity expiry is member-wide, not per lot, so lots get no date of their own.
        Month and year ends are taken in the tenant's time zone.
        """
        if self.kind is ExpiryKind.DAYS_AFTER_EARN:
            assert self.days is not None
            return available_at + timedelta(days=self.days)
        if self.kind is ExpiryKind.END_OF_MONTH_AFTER:
            assert self.months is not None
            return _end_of_month(available_at.astimezone(tz), self.months)
        if self.kind is ExpiryKind.END_OF_YEAR_AFTER:
            assert self.months is not None
            shifted = _add_months(available_at.astimezone(tz), self.months)
            return _start_of(shifted.year + 1, 1, tz)
        return None

    def idle_cutoff(self, now: datetime) -> datetime | None:
        """Members with no activity since this moment lose their available points.

        Only the inactivity policy has one; under every other policy lots expire by date.
        """
        if self.kind is not ExpiryKind.INACTIVITY:
            return None
        assert self.days is not None
        return now - timedelta(days=self.days)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _start_of(year: int, month: int, tz: ZoneInfo) -> datetime:
    return datetime(year, month, 1, tzinfo=tz)


def _end_of_month(local: datetime, months: int) -> datetime:
    """The first instant after the end of the month ``months`` after ``local``."""
    shifted = _add_months(local, months)
    year, month = (
        (shifted.year + 1, 1) if shifted.month == 12 else (shifted.year, shifted.month + 1)
    )
    return _start_of(year, month, local.tzinfo)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Program:
    """A tenant's programme settings. One place states the money -> points rounding rule."""

    currency: str
    points_per_unit: Decimal = Decimal(1)
    rounding: Rounding = Rounding.FLOOR
    exclude_shipping: bool = True
    exclude_tax: bool = True
    pending_days: int = 14
    expiry: ExpiryPolicy = field(default_factory=ExpiryPolicy)
    clawback: Clawback = Clawback.NEGATIVE_BALANCE
    transfers_enabled: bool = False
    expiring_soon_days: int = 30
    # What one point is worth in money: the rate when points pay at checkout and the value of
    # outstanding points in the liability figure (None: points cannot pay, no liability value).
    point_value: Decimal | None = None
    # Analytics: when the programme started (None = when the tenant was created) and the
    # expected breakage rate (None = estimated from history).
    launched_at: datetime | None = None
    expected_breakage: Decimal | None = None
    # Checkout: share of an order points may pay, how long a checkout holds codes and points,
    # and what a refund does to a used code.
    points_max_share: Decimal = Decimal(1)
    checkout_ttl_minutes: int = 15
    code_refund_policy: CodeRefundPolicy = CodeRefundPolicy.KEEP

    def __post_init__(self) -> None:
        check_currency(self.currency)
        if self.launched_at is not None and self.launched_at.utcoffset() is None:
            raise InvalidSettings("launched_at needs a time zone offset", field="launched_at")
        if self.point_value is not None and not 0 <= self.point_value <= 1_000_000:
            raise InvalidSettings("point_value must be 0..1000000", field="point_value")
        if self.expected_breakage is not None and not 0 <= self.expected_breakage < 1:
            raise InvalidSettings(
                "expected_breakage must be >= 0 and < 1", field="expected_breakage"
            )
        if self.points_per_unit < 0:
            raise InvalidSettings("points_per_unit must be >= 0", field="points_per_unit")
        if not 0 <= self.pending_days <= 365:
            raise InvalidSettings("pending_days must be 0..365", field="pending_days")
        if not 1 <= self.expiring_soon_days <= 365:
            raise InvalidSettings("expiring_soon_days must be 1..365", field="expiring_soon_days")
        if self.point_value is not None and not self.point_value > 0:
            raise InvalidSettings("point_value must be more than 0", field="point_value")
        if not 0 < self.points_max_share <= 1:
            raise InvalidSettings(
                "points_max_share must be more than 0 and at most 1", field="points_max_share"
            )
        if not 1 <= self.checkout_ttl_minutes <= 1440:
            raise InvalidSettings(
                "checkout_ttl_minutes must be 1..1440", field="checkout_ttl_minutes"
            )

    def points_for(self, base: Decimal) -> int:
        """Convert a money base to points: rate applied once, then one rounding."""
        if base <= 0:
            return 0
        return int(
            (base * self.points_per_unit).to_integral_value(_DECIMAL_ROUNDING[self.rounding])
        )

    def available_at(self, earned_at: datetime) -> datetime:
        return earned_at + timedelta(days=self.pending_days)

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "points_per_unit": str(self.points_per_unit),
            "rounding": self.rounding.value,
            "exclude_shipping": self.exclude_shipping,
            "exclude_tax": self.exclude_tax,
            "pending_days": self.pending_days,
            "expiry": {
                "kind": self.expiry.kind.value,
                "days": self.expiry.days,
                "months": self.expiry.months,
            },
            "clawback": self.clawback.value,
            "transfers_enabled": self.transfers_enabled,
            "expiring_soon_days": self.expiring_soon_days,
            "launched_at": None if self.launched_at is None else self.launched_at.isoformat(),
            "point_value": _optional_str(self.point_value),
            "expected_breakage": _optional_str(self.expected_breakage),
            "points_max_share": str(self.points_max_share),
            "checkout_ttl_minutes": self.checkout_ttl_minutes,
            "code_refund_policy": self.code_refund_policy.value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Program:
        expiry = data.get("expiry") or {}
        try:
            return cls(
                currency=data["currency"],
                points_per_unit=Decimal(str(data.get("points_per_unit", "1"))),
                rounding=Rounding(data.get("rounding", "floor")),
                exclude_shipping=bool(data.get("exclude_shipping", True)),
                exclude_tax=bool(data.get("exclude_tax", True)),
                pending_days=int(data.get("pending_days", 14)),
                expiry=ExpiryPolicy(
                    kind=ExpiryKind(expiry.get("kind", "never")),
                    days=expiry.get("days"),
                    months=expiry.get("months"),
                ),
                clawback=Clawback(data.get("clawback", "negative_balance")),
                transfers_enabled=bool(data.get("transfers_enabled", False)),
                expiring_soon_days=int(data.get("expiring_soon_days", 30)),
                launched_at=_optional_datetime(data.get("launched_at")),
                point_value=_optional_decimal(data.get("point_value")),
                expected_breakage=_optional_decimal(data.get("expected_breakage")),
                points_max_share=Decimal(str(data.get("points_max_share", "1"))),
                checkout_ttl_minutes=int(data.get("checkout_ttl_minutes", 15)),
                code_refund_policy=CodeRefundPolicy(data.get("code_refund_policy", "keep")),
            )
        except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
            raise InvalidSettings(f"invalid programme settings: {exc}") from exc

    def updated(self, **changes: Any) -> Program:
        return replace(self, **changes)


def _optional_str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _optional_decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _optional_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
