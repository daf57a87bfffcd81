"""POST /v1/carts/evaluate: price a cart at checkout; with a checkout id, hold codes and points."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import orjson
from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from loyalty.api.deps import ClockDep, DbDep, Reader
from loyalty.api.schemas import Amount, Currency, ExternalId, Strict
from loyalty.domain.errors import CurrencyMismatch
from loyalty.domain.promotions import CartLine
from loyalty.services import checkout

router = APIRouter(prefix="/v1/carts", tags=["checkout"])


class CartLineIn(Strict):
    sku: str = Field(min_length=1, max_length=200)
    product_id: str | None = Field(None, max_length=200)
    category: str | None = Field(None, max_length=200)
    quantity: int = Field(gt=0, le=1_000_000)
    unit_price: Amount


class CartIn(Strict):
    member: ExternalId | None = None
    currency: Currency
    lines: list[CartLineIn] = Field(min_length=1, max_length=500)
    shipping: Amount = Decimal(0)
    coupon_codes: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=20
    )
    points_to_pay: int = Field(0, ge=0, le=1_000_000_000)
    checkout_id: ExternalId | None = Field(
        None, description="hold the codes and points for the programme's checkout TTL"
    )


@router.post("/evaluate")
async def evaluate_cart(body: CartIn, principal: Reader, db: DbDep, clock: ClockDep) -> Response:
    """Applied and rejected promotions with reasons, the discount per line, points to earn and
    points usable as payment. A dry run unless ``checkout_id`` is given (needs a write key)."""
    ctx = principal.context
    if body.checkout_id is not None:
        principal.require("write")
    if body.currency != ctx.program.currency:
        raise CurrencyMismatch(
            f"the programme runs in {ctx.program.currency}, the cart is in {body.currency}",
            field="currency",
        )
    request = checkout.CartRequest(
        member=body.member,
        currency=body.currency,
        lines=tuple(
            CartLine(line.sku, line.quantity, line.unit_price, line.product_id, line.category)
            for line in body.lines
        ),
        shipping=body.shipping,
        codes=tuple(body.coupon_codes),
        points_to_pay=body.points_to_pay,
        checkout_id=body.checkout_id,
    )
    now = clock.now()
    if request.checkout_id is None:
        result = await run_in_threadpool(checkout.evaluate, db, ctx, request, now)
    else:
        result = await db.run_async(
            ctx.tenant_id, lambda uow: checkout.reserve(uow, ctx, request, now)
        )
    # orjson: the body lists every promotion considered, several times faster than json here
    return Response(orjson.dumps(result), media_type="application/json")
