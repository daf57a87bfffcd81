"""POST /v1/carts/evaluate: price a cart at checkout; with a checkout id, hold codes and points."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field, TypeAdapter
from starlette.concurrency import run_in_threadpool

from loyalty.api.deps import component_schemas, read_body, request_principal
from loyalty.api.schemas import Amount, Currency, ExternalId, Strict
from loyalty.domain.errors import CurrencyMismatch
from loyalty.domain.promotions import CartLine
from loyalty.services import checkout
from loyalty.services.context import Clock
from loyalty.store.uow import Database

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


_cart_adapter: TypeAdapter[CartIn] = TypeAdapter(CartIn)
CART_SCHEMA, CART_MODELS = component_schemas(_cart_adapter)
CART_MODELS["CartIn"] = CART_SCHEMA


@router.post(
    "/evaluate",
    responses={422: {"description": "the cart is not valid (problem+json)"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CartIn"}}},
        },
    },
)
async def evaluate_cart(request: Request) -> Response:
    """Applied and rejected promotions with reasons, the discount per line, points to earn and
    points usable as payment. A dry run unless ``checkout_id`` is given (needs a write key)."""
    # Like POST /v1/events, the checkout's hot path reads its own request rather than going
    # through FastAPI's dependency and body machinery: the same authentication, the same
    # validation (pydantic parses the body straight from bytes), the same problems.
    db: Database = request.app.state.db
    clock: Clock = request.app.state.clock
    principal = request_principal(request, "read")
    body = await read_body(request, _cart_adapter)
    ctx = principal.context
    if body.checkout_id is not None:
        principal.require("write")
    if body.currency != ctx.program.currency:
        raise CurrencyMismatch(
            f"the programme runs in {ctx.program.currency}, the cart is in {body.currency}",
            field="currency",
        )
    cart = checkout.CartRequest(
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
    if cart.checkout_id is None and db.sqlite:
        # A dry run on SQLite reads a local file (WAL: a reader never waits for the writer)
        # and is otherwise pure Python holding the GIL: handing it to a worker thread and back
        # would cost more CPU than the loop is spared.
        result = checkout.evaluate(db, ctx, cart, now)
    elif cart.checkout_id is None:
        result = await run_in_threadpool(checkout.evaluate, db, ctx, cart, now)
    else:
        result = await db.run_async(
            ctx.tenant_id, lambda uow: checkout.reserve(uow, ctx, cart, now)
        )
    # orjson: the body lists every promotion considered, several times faster than json here
    return Response(orjson.dumps(result), media_type="application/json")
