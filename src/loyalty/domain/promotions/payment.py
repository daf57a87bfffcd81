"""Points as payment: how many points an order can take and what they are worth.

Points buy money at ``money_per_point``, rounded down to the currency's minor unit, so points
never pay more than their value. At most ``max_share`` of the order total (itself rounded down
to the minor unit) may be paid with points.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from loyalty.domain.errors import InsufficientPoints, InvalidSettings, ValidationFailed
from loyalty.domain.money import quantum
from loyalty.domain.promotions.allocation import floor_money
from loyalty.domain.promotions.reasons import PointsOverLimit


@dataclass(frozen=True, slots=True)
class PointsPaymentPolicy:
    money_per_point: Decimal
    max_share: Decimal = Decimal(1)  # 0.5: points may pay at most half of the order

    def __post_init__(self) -> None:
        if not self.money_per_point > 0:
            raise InvalidSettings("must be more than 0", field="money_per_point")
        if not 0 < self.max_share <= 1:
            raise InvalidSettings("must be more than 0 and at most 1", field="max_share")


@dataclass(frozen=True, slots=True)
class PointsPaymentQuote:
    currency: str
    available_points: int
    max_points: int  # the most points this order accepts from this member
    max_value: Decimal  # what ``max_points`` pay
    money_per_point: Decimal


def points_value(points: int, money_per_point: Decimal, currency: str) -> Decimal:
    """Money that ``points`` pay, rounded down to the minor unit."""
    return floor_money(points * money_per_point, quantum(currency))


def quote_points_payment(
    order_total: Decimal, currency: str, available_points: int, policy: PointsPaymentPolicy
) -> PointsPaymentQuote:
    """The most points usable on an order of ``order_total`` (after discounts).

    Never asks for points that would buy nothing: when rounding down leaves a fraction of a
    minor unit unpaid, the quote uses the fewest points that pay the same money.
    """
    if order_total < 0:
        raise ValidationFailed("order total must not be negative", field="order_total")
    payable = floor_money(order_total * policy.max_share, quantum(currency))
    affordable = int((payable / policy.money_per_point).to_integral_value(ROUND_FLOOR))
    points = min(max(available_points, 0), affordable)
    value = points_value(points, policy.money_per_point, currency)
    fewest = int((value / policy.money_per_point).to_integral_value(ROUND_CEILING))
    return PointsPaymentQuote(
        currency=currency,
        available_points=available_points,
        max_points=min(points, fewest),
        max_value=value,
        money_per_point=policy.money_per_point,
    )


def check_points_payment(quote: PointsPaymentQuote, points: int) -> Decimal:
    """Validate paying ``points`` on the quoted order; returns the money they pay."""
    if points < 0:
        raise ValidationFailed("points must not be negative", field="points")
    if points > quote.available_points:
        raise InsufficientPoints(
            f"{points} points requested but only {quote.available_points} available",
            field="points",
            requested=points,
            available=quote.available_points,
        )
    if points > quote.max_points:
        raise PointsOverLimit(
            f"at most {quote.max_points} points can pay for this order",
            field="points",
            reason="points_over_max_share",
            max_points=quote.max_points,
        )
    return points_value(points, quote.money_per_point, quote.currency)
