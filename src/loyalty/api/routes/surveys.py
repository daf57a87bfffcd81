"""Surveys (NPS, CSAT, custom), responses and results."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import Field

from loyalty.api.deps import ClockDep, DbDep, Reader, Writer
from loyalty.api.routes._write import write_response
from loyalty.api.schemas import ExternalId, Strict, Timestamp, canonical_hash
from loyalty.domain.feedback import Granularity
from loyalty.services import surveys as service

router = APIRouter(prefix="/v1/surveys", tags=["feedback"])


class SurveyCreate(Strict):
    kind: Literal["nps", "csat", "custom"]
    question: str = Field(min_length=1, max_length=1000)
    active: bool = True
    trigger: Literal["order"] | None = None
    delay_days: int | None = Field(None, ge=0, le=365)
    min_score: int | None = None
    max_score: int | None = None


class SurveyUpdate(Strict):
    question: str | None = Field(None, min_length=1, max_length=1000)
    active: bool | None = None


class ResponseIn(Strict):
    id: ExternalId
    member: ExternalId
    score: int
    comment: str | None = Field(None, max_length=5000)
    order_id: ExternalId | None = None
    answered_at: Timestamp | None = None


@router.post("", status_code=201)
def create_survey(body: SurveyCreate, principal: Writer, db: DbDep, clock: ClockDep) -> Any:
    """``trigger: "order"`` makes it a post-purchase survey: each response names an order, and
    ``delay_days`` after each payment a ``survey.requested`` event asks the customer."""
    now = clock.now()
    return db.run(
        principal.context.tenant_id,
        lambda uow: service.create_survey(uow, body.model_dump(exclude_unset=True), now),
    )


@router.get("")
def list_surveys(principal: Reader, db: DbDep, active: bool | None = None) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return {"items": service.list_surveys(uow, active)}


@router.get("/{survey_id}")
def get_survey(survey_id: int, principal: Reader, db: DbDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return service.get_survey(uow, survey_id)


@router.patch("/{survey_id}")
def update_survey(
    survey_id: int, body: SurveyUpdate, principal: Writer, db: DbDep, clock: ClockDep
) -> dict[str, Any]:
    now = clock.now()
    data = body.model_dump(exclude_unset=True)
    return db.run(
        principal.context.tenant_id, lambda uow: service.update_survey(uow, survey_id, data, now)
    )


@router.post("/{survey_id}/responses", status_code=201)
def answer(
    survey_id: int, body: ResponseIn, principal: Writer, db: DbDep, clock: ClockDep
) -> JSONResponse:
    """One response per member, survey and order; sending the same ``id`` again returns the
    first response (200) without a second event."""
    now = clock.now()
    data = body.model_dump()
    request_hash = canonical_hash(body.model_dump(mode="json"))
    status, view = db.run(
        principal.context.tenant_id,
        lambda uow: service.answer(uow, survey_id, data, request_hash, now, principal.context),
    )
    return write_response((status, view, status == 200))


@router.get("/{survey_id}/results")
def results(
    survey_id: int,
    principal: Reader,
    db: DbDep,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    granularity: Granularity = Granularity.MONTH,
    segment: str | None = None,
) -> dict[str, Any]:
    """NPS (or CSAT, or the average) over the range and per period; ``segment`` keeps the
    answers of that segment's current members."""
    with db.read(principal.context.tenant_id) as uow:
        return service.results(
            uow,
            principal.context,
            survey_id,
            start=start,
            end=end,
            granularity=granularity,
            segment=segment,
        )
