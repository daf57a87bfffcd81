"""Orders as the ledger sees them: the earning base and what a refund takes back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from loyalty.domain.errors import RefundExceedsOrder, UnknownLine, ValidationFailed
from loyalty.domain.money import check_currency, quantum
from loyalty.domain.program import Program


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price: Decimal
    discount: Decimal = Decimal(0)
    product_id: str | None = None
    category: str | None = None
    brand: str | None = None

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValidationFailed("quantity must be a positive integer", field="quantity")
        if self.unit_price < 0:
            raise ValidationFailed("unit_price must not be negative", field="unit_price")
        if self.discount < 0:
            raise ValidationFailed("discount must not be negative", field="discount")
        if self.discount > self.unit_price * self.quantity:
            raise ValidationFailed("discount is larger than the line value", field="discount")

    @property
    def net(self) -> Decimal:
        """Line value after its discount."""
        return self.unit_price * self.quantity - self.discount


@dataclass(frozen=True, slots=True)
class PaidOrder:
    order_id: str
    currency: str
    lines: tuple[OrderLine, ...]
    shipping: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    total: Decimal | None = None

    def __post_init__(self) -> None:
        check_currency(self.currency)
        if not self.order_id:
            raise ValidationFailed("order_id is required", field="order_id")
        if self.shipping < 0 or self.tax < 0:
            raise ValidationFailed("shipping and tax must not be negative", field="shipping")
        if self.total is not None and self.total < 0:
            raise ValidationFailed("total must not be negative", field="total")

    @property
    def lines_net(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal(0))

    @property
    def charged_total(self) -> Decimal:
        """What the customer paid: the store's total, or lines + shipping + tax."""
        if self.total is not None:
            return self.total
        return self.lines_net + self.shipping + self.tax

    def earning_base(self, program: Program) -> Decimal:
        """Lines after discounts, plus shipping and tax unless the programme excludes them."""
        return self._base(self.lines_net, program)

    def total_and_base(self, program: Program) -> tuple[Decimal, Decimal]:
        """``charged_total`` and ``earning_base`` with the lines summed once."""
        net = self.lines_net
        total = self.total if self.total is not None else net + self.shipping + self.tax
        return total, self._base(net, program)

    def _base(self, net: Decimal, program: Program) -> Decimal:
        base = net
        if not program.exclude_shipping:
            base += self.shipping
        if not program.exclude_tax:
            base += self.tax
        return base


@dataclass(frozen=True, slots=True)
class RefundState:
    """What has been refunded of an order so far."""

    amount: Decimal = Decimal(0)
    base: Decimal = Decimal(0)
    quantities: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RefundValue:
    amount: Decimal  # money returned to the customer
    base: Decimal  # the part of the earning base it takes back
    quantities: Mapping[str, int]  # sku -> units refunded by this refund


def refund_by_lines(
    order: PaidOrder, base: Decimal, state: RefundState, lines: Iterable[tuple[str, int]]
) -> RefundValue:
    """Value of refunding whole units of lines; never more units than were bought."""
    bought: dict[str, int] = {}
    net: dict[str, Decimal] = {}
    for line in order.lines:
        bought[line.sku] = bought.get(line.sku, 0) + line.quantity
        net[line.sku] = net.get(line.sku, Decimal(0)) + line.net
    wanted: dict[str, int] = {}
    for sku, quantity in lines:
        if sku not in bought:
            raise UnknownLine(f"order {order.order_id} has no line with sku '{sku}'", field="sku")
        if quantity <= 0:
            raise ValidationFailed("refund quantity must be positive", field="quantity")
        wanted[sku] = wanted.get(sku, 0) + quantity
    amount = Decimal(0)
    for sku, quantity in wanted.items():
        left = bought[sku] - state.quantities.get(sku, 0)
        if quantity > left:
            raise RefundExceedsOrder(
                f"refund of {quantity} x '{sku}' but only {left} left to refund", field="quantity"
            )
        done = bought[sku] - left
        amount += _units_value(order, net[sku], bought[sku], done + quantity)
        amount -= _units_value(order, net[sku], bought[sku], done)
    _check_amount(order, state, amount)
    everything = all(
        state.quantities.get(sku, 0) + wanted.get(sku, 0) == units for sku, units in bought.items()
    )
    lines_net = order.lines_net
    if everything:  # exact remainder, so rounding of earlier shares cannot leave points behind
        refunded_base = base - state.base
    else:
        refunded_base = base * amount / lines_net if lines_net > 0 else Decimal(0)
    return RefundValue(amount=amount, base=refunded_base, quantities=wanted)


def _units_value(order: PaidOrder, net: Decimal, bought: int, units: int) -> Decimal:
    """Money for the first ``units`` of ``bought``, in the currency's minor units.

    Rounded on the cumulative count, so refunds of some units at a time return money a store
    can refund (and then refund the rest of by amount), and all units return the line exactly.
    """
    if units >= bought:
        return net
    return (net * units / bought).quantize(quantum(order.currency), ROUND_HALF_UP)


def refund_by_amount(
    order: PaidOrder, base: Decimal, state: RefundState, amount: Decimal
) -> RefundValue:
    """Value of refunding a sum of money: it takes back the same share of the base."""
    if amount <= 0:
        raise ValidationFailed("refund amount must be positive", field="amount")
    _check_amount(order, state, amount)
    total = order.charged_total
    if amount == total - state.amount:  # the last of the money: the rest of the base
        refunded_base = base - state.base
    else:
        refunded_base = base * amount / total if total > 0 else Decimal(0)
    return RefundValue(amount=amount, base=refunded_base, quantities={})


def _check_amount(order: PaidOrder, state: RefundState, amount: Decimal) -> None:
    left = order.charged_total - state.amount
    if amount > left:
        raise RefundExceedsOrder(
            f"refund of {amount} {order.currency} but only {left} is left to refund",
            field="amount",
        )


def points_to_reverse(earned: int, base: Decimal, refunded_before: Decimal, refund: Decimal) -> int:
    """Points a refund takes back, proportional to the base it refunds.

    Computed on the cumulative refunded share and differenced, so that any sequence of
    partial refunds that ends in a full refund reverses exactly what the order earned.
    """
    return _reversed_after(earned, base, refunded_before + refund) - _reversed_after(
        earned, base, refunded_before
    )


def _reversed_after(earned: int, base: Decimal, refunded: Decimal) -> int:
    if refunded <= 0:
        return 0
    if base <= 0 or refunded >= base:
        return earned
    return int((earned * refunded / base).to_integral_value(ROUND_FLOOR))


def cashback_to_reverse(
    credited: Decimal, base: Decimal, refunded_before: Decimal, refund: Decimal, currency: str
) -> Decimal:
    """Store credit a refund takes back: the cashback an order credited, in proportion to the
    base it refunds, half-up to the currency's minor unit.

    Like ``points_to_reverse``, computed on the cumulative refunded share and differenced: no
    sequence of partial refunds takes back more than was credited, and the refund that
    completes the order takes exactly the remainder.
    """
    after = cashback_reversed_after(credited, base, refunded_before + refund, currency)
    return after - cashback_reversed_after(credited, base, refunded_before, currency)


def cashback_reversed_after(
    credited: Decimal, base: Decimal, refunded: Decimal, currency: str
) -> Decimal:
    """How much of ``credited`` the refunds of ``refunded`` (of ``base``) have taken back."""
    step = quantum(currency)
    if refunded <= 0:
        return Decimal(0).quantize(step)
    if base <= 0 or refunded >= base:
        return credited.quantize(step)
    return (credited * refunded / base).quantize(step, ROUND_HALF_UP)
