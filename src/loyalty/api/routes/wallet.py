"""The cashback wallet: GET /v1/members/{id}/wallet, POST /v1/members/{id}/wallet/spend."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import Field

from loyalty.api.deps import ClockDep, DbDep, IdempotencyKey, Reader, Writer
from loyalty.api.routes._write import write_response
from loyalty.api.schemas import Strict, canonical_hash
from loyalty.services import wallet as wallet_service
from loyalty.services.idempotency import run_write

router = APIRouter(prefix="/v1", tags=["wallet"])


class WalletSpend(Strict):
    amount: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
    reference: Annotated[str, Field(min_length=1, max_length=200)]


@router.get("/members/{external_id}/wallet")
def get_wallet(
    external_id: str,
    principal: Reader,
    db: DbDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Store-credit balance and the latest entries, newest first."""
    with db.read(principal.context.tenant_id) as uow:
        return wallet_service.wallet_view(uow, principal.context, external_id, limit)


@router.post(
    "/members/{external_id}/wallet/spend",
    responses={
        409: {"description": "not enough credit, or the reference was used for another amount"}
    },
)
def spend_credit(
    external_id: str,
    body: WalletSpend,
    principal: Writer,
    db: DbDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Spend store credit; the same reference again returns the first result."""
    ctx, now = principal.context, clock.now()
    result = run_write(
        db,
        ctx.tenant_id,
        lambda uow: (
            200,
            wallet_service.spend(uow, ctx, external_id, body.amount, body.reference, now),
        ),
        key=key,
        request_hash=canonical_hash(
            ["POST wallet/spend", external_id, body.model_dump(mode="json")]
        ),
        now=now,
    )
    return write_response(result)
