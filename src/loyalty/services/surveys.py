"""Feedback: NPS, CSAT and custom surveys, their responses and results per period and segment.

Each response writes a ``survey.answered`` outbox event in its transaction; earning rules
(another module) can award points for it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from loyalty.domain.errors import (
    AlreadyAnswered,
    ResponseConflict,
    SurveyInactive,
    SurveyNotFound,
    UnknownOrder,
    ValidationFailed,
)
from loyalty.domain.feedback import (
    Granularity,
    SurveyKind,
    check_score,
    nps_category,
    period_label,
    period_start,
    scale_for,
    summarise,
)
from loyalty.services import events
from loyalty.services.context import TenantContext
from loyalty.services.lookup import require_member
from loyalty.services.outbox import emit
from loyalty.services.segments import find as find_segment
from loyalty.store.surveys import SurveyRepository
from loyalty.store.uow import UnitOfWork

MAX_PERIODS = 1_000


def _repo(uow: UnitOfWork) -> SurveyRepository:
    return SurveyRepository(uow.conn, uow.tenant_id)


def _view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "question": row["question"],
        "active": bool(row["active"]),
        "min_score": row["min_score"],
        "max_score": row["max_score"],
        "trigger": "order" if row["after_order"] else None,
        "delay_days": row["delay_days"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


def _require(uow: UnitOfWork, survey_id: int) -> Any:
    row = _repo(uow).get(survey_id)
    if row is None:
        raise SurveyNotFound(f"no survey {survey_id}", field="id")
    return row


def create_survey(uow: UnitOfWork, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    kind = SurveyKind(data["kind"])
    low, high = scale_for(kind, data.get("min_score"), data.get("max_score"))
    after_order = data.get("trigger") == "order"
    if data.get("delay_days") is not None and not after_order:
        raise ValidationFailed("delay_days needs trigger 'order'", field="delay_days")
    values = {
        "kind": kind.value,
        "question": data["question"],
        "active": int(data.get("active", True)),
        "min_score": low,
        "max_score": high,
        "after_order": int(after_order),
        "delay_days": (data.get("delay_days") or 0) if after_order else None,
    }
    row = _repo(uow).add(values, now)
    uow.audit("api", "survey.created", str(row["id"]), values, now)
    return _view(row)


def list_surveys(uow: UnitOfWork, active: bool | None) -> list[dict[str, Any]]:
    return [_view(row) for row in _repo(uow).all(active)]


def get_survey(uow: UnitOfWork, survey_id: int) -> dict[str, Any]:
    return _view(_require(uow, survey_id))


def update_survey(
    uow: UnitOfWork, survey_id: int, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Change the question or switch the survey on and off; the scale never changes."""
    _require(uow, survey_id)
    values: dict[str, Any] = {}
    if data.get("question") is not None:
        values["question"] = data["question"]
    if data.get("active") is not None:
        values["active"] = int(data["active"])
    if values:
        _repo(uow).update(survey_id, values, now)
        uow.audit("api", "survey.updated", str(survey_id), values, now)
    return _view(_require(uow, survey_id))


def _response_view(row: Any, survey: Any, member: str) -> dict[str, Any]:
    view = {
        "id": row["response_id"],
        "survey": survey["id"],
        "member": member,
        "score": row["score"],
        "comment": row["comment"],
        "order_id": row["order_key"] or None,
        "answered_at": row["answered_at"].isoformat(),
    }
    if survey["kind"] == SurveyKind.NPS:
        view["category"] = nps_category(row["score"])
    return view


def _replay(uow: UnitOfWork, survey: Any, response: Any, request_hash: str) -> dict[str, Any]:
    if response["request_hash"] != request_hash:
        raise ResponseConflict(
            f"response '{response['response_id']}' was sent before with different content",
            field="id",
        )
    member = _repo(uow).member_external_id(response["member_id"]) or ""
    return _response_view(response, survey, member)


def _order_key(uow: UnitOfWork, survey: Any, member: Any, order_id: str | None) -> str:
    if order_id is None:
        if survey["after_order"]:
            raise ValidationFailed("this survey is about an order: give order_id", field="order_id")
        return ""
    order = uow.orders.get(order_id)
    if order is None or order["member_id"] != member["id"]:
        raise UnknownOrder(f"member has no order '{order_id}'", field="order_id")
    return order_id


def answer(
    uow: UnitOfWork,
    survey_id: int,
    data: dict[str, Any],
    request_hash: str,
    now: datetime,
    ctx: TenantContext | None = None,
) -> tuple[int, dict[str, Any]]:
    """Record a response once: the same id again returns the first (200), a second answer by
    the member for the same survey and order is refused. With ``ctx`` the answer also goes to
    the earning rules as a ``survey.answered`` action, in the same transaction."""
    survey = _require(uow, survey_id)
    repo = _repo(uow)
    existing = repo.response(survey_id, data["id"])
    if existing is not None:
        return 200, _replay(uow, survey, existing, request_hash)
    if not survey["active"]:
        raise SurveyInactive(f"survey {survey_id} is not active", field="id")
    member = require_member(uow, data["member"], lock=False, field="member")
    score = check_score(data["score"], survey["min_score"], survey["max_score"])
    values = {
        "survey_id": survey_id,
        "response_id": data["id"],
        "member_id": member["id"],
        "order_key": _order_key(uow, survey, member, data.get("order_id")),
        "score": score,
        "comment": data.get("comment"),
        "request_hash": request_hash,
        "answered_at": data.get("answered_at") or now,
    }
    row = repo.add_response(values)
    if row is None:
        raced = repo.response(survey_id, data["id"])
        if raced is not None:
            return 200, _replay(uow, survey, raced, request_hash)
        raise AlreadyAnswered(
            f"member '{data['member']}' already answered survey {survey_id}"
            + (f" for order '{values['order_key']}'" if values["order_key"] else ""),
            field="member",
        )
    view = _response_view(row, survey, member["external_id"])
    emit(uow, "survey.answered", member["external_id"], {**view, "kind": survey["kind"]}, now)
    if ctx is not None:
        _earn_for_answer(uow, ctx, survey, view, now)
    return 201, view


def _earn_for_answer(
    uow: UnitOfWork, ctx: TenantContext, survey: Any, view: dict[str, Any], now: datetime
) -> None:
    """The answer goes to the earning rules as ``survey.answered`` (rules may test
    ``event.data.kind``, ``event.data.category``, ``event.data.score``)."""
    events.raise_action(
        uow,
        ctx,
        source="survey",
        event_id=f"{survey['id']}:{view['id']}",
        type_="survey.answered",
        member=view["member"],
        data={
            "survey_id": survey["id"],
            "kind": str(survey["kind"]),
            "score": view["score"],
            "category": view.get("category"),
            "order_id": view["order_id"],
        },
        occurred_at=datetime.fromisoformat(view["answered_at"]),
        now=now,
    )


def results(
    uow: UnitOfWork,
    ctx: TenantContext,
    survey_id: int,
    *,
    start: date | None,
    end: date | None,
    granularity: Granularity,
    segment: str | None,
) -> dict[str, Any]:
    """Figures for the whole range and per period (days in the shop's time zone, ``end``
    included); ``segment`` keeps the responses of the segment's current members."""
    survey = _require(uow, survey_id)
    if start and end and end < start:
        raise ValidationFailed("'to' is before 'from'", field="to")
    if segment is not None:
        find_segment(uow, segment)
    tz = ctx.timezone
    since = datetime.combine(start, time(), tz) if start else None
    until = datetime.combine(end + timedelta(days=1), time(), tz) if end else None
    rows = _repo(uow).scores(survey_id, since, until, segment)
    kind = SurveyKind(survey["kind"])
    by_period: dict[date, list[int]] = defaultdict(list)
    for at, score in rows:
        by_period[period_start(at.astimezone(tz).date(), granularity)].append(score)
    periods = _periods(by_period, start, end, granularity)
    return {
        "survey": survey_id,
        "kind": kind.value,
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "granularity": granularity.value,
        "segment": segment,
        "overall": summarise((s for _, s in rows), kind).to_dict(kind),
        "periods": [
            {
                "period": period_label(p, granularity),
                "start": p.isoformat(),
                **summarise(by_period.get(p, []), kind).to_dict(kind),
            }
            for p in periods
        ],
    }


def _periods(
    by_period: dict[date, list[int]], start: date | None, end: date | None, unit: Granularity
) -> list[date]:
    """Every period from the first to the last (empty ones too, so charts have no gaps)."""
    first = period_start(start, unit) if start else min(by_period, default=None)
    last = period_start(end, unit) if end else max(by_period, default=None)
    if first is None or last is None:
        return []
    found: list[date] = []
    current = first
    while current <= last:
        if len(found) == MAX_PERIODS:
            raise ValidationFailed(
                f"more than {MAX_PERIODS} periods: choose a shorter range or a coarser granularity",
                field="granularity",
            )
        found.append(current)
        current = period_start(current + timedelta(days=_LONGEST[unit]), unit)
    return found


_LONGEST = {
    Granularity.DAY: 1,
    Granularity.WEEK: 7,
    Granularity.MONTH: 31,
    Granularity.QUARTER: 92,
    Granularity.YEAR: 366,
}
