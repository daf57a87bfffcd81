"""GET /v1/analytics/...: programme figures as JSON, CSV or Parquet (docs/analytics.md)."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

import polars as pl
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from loyalty.analytics.kpis import Granularity
from loyalty.api.deps import ClockDep, DbDep, Reader
from loyalty.services import program_analytics as service
from loyalty.services.context import TenantContext
from loyalty.services.program_analytics import FigureQuery, Report
from loyalty.store.uow import Database

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

Format = Literal["json", "csv", "parquet"]
From = Annotated[date | None, Query(alias="from", description="first local day (included)")]
To = Annotated[date | None, Query(alias="to", description="last local day (included)")]
FormatQuery = Annotated[Format, Query(alias="format")]
GranularityQuery = Annotated[Granularity, Query()]

PARQUET = "application/vnd.apache.parquet"


async def _answer(
    db: Database, ctx: TenantContext, name: str, query: FigureQuery, fmt: Format, now: Any
) -> Response:
    report = await run_in_threadpool(service.figure, db, ctx, name, query, now)
    return export(report, fmt)


def export(report: Report, fmt: Format) -> Response:
    """A figure as JSON (rows and meta), or its rows as a CSV or Parquet attachment."""
    if fmt == "json":
        rows = [{k: _json(v) for k, v in row.items()} for row in report.rows]
        return JSONResponse({"figure": report.figure, **_jsonable(report.meta), "rows": rows})
    frame = _frame(report)
    buffer = io.BytesIO()
    if fmt == "csv":
        frame.write_csv(buffer)
        media = "text/csv; charset=utf-8"
    else:
        frame.write_parquet(buffer)
        media = PARQUET
    disposition = f'attachment; filename="{report.figure}.{fmt}"'
    return Response(
        buffer.getvalue(), media_type=media, headers={"Content-Disposition": disposition}
    )


def _json(value: Any) -> Any:
    if isinstance(value, Decimal | date):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    return value


def _jsonable(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: _jsonable(v) if isinstance(v, dict) else _json(v) for k, v in meta.items()}


_DTYPES = {"date": pl.Date, "int": pl.Int64, "ratio": pl.Float64, "str": pl.String}


def _frame(report: Report) -> pl.DataFrame:
    """The rows as a typed frame: money as decimals with the currency's places."""
    schema: dict[str, Any] = {}
    for column, kind in report.columns.items():
        if kind in ("money", "decimal"):
            places = max(
                (
                    -v.as_tuple().exponent
                    for r in report.rows
                    if isinstance(v := r[column], Decimal)
                ),
                default=2,
            )
            schema[column] = pl.Decimal(38, max(places, 0))
        else:
            schema[column] = _DTYPES[kind]
    return pl.DataFrame(report.rows, schema=schema, orient="row")


@router.get("/members")
async def members(
    principal: Reader,
    db: DbDep,
    clock: ClockDep,
    first: From = None,
    last: To = None,
    granularity: GranularityQuery = Granularity.MONTH,
    fmt: FormatQuery = "json",
) -> Response:
    """Members enrolled per period, enrolled in total by its end, and active (ordering)."""
    query = FigureQuery(first, last, granularity)
    return await _answer(db, principal.context, "members", query, fmt, clock.now())


@router.get("/repeat-purchase")
async def repeat_purchase(
    principal: Reader,
    db: DbDep,
    clock: ClockDep,
    first: From = None,
    last: To = None,
    fmt: FormatQuery = "json",
) -> Response:
    """Share of customers with two or more orders in the period, members and non-members."""
    query = FigureQuery(first, last)
    return await _answer(db, principal.context, "repeat_purchase", query, fmt, clock.now())


@router.get("/cohorts")
async def cohorts(
    principal: Reader,
    db: DbDep,
    clock: ClockDep,
    first: From = None,
    last: To = None,
    fmt: FormatQuery = "json",
) -> Response:
    """Retention by first-order month: one row per cohort and month since the first order."""
    query = FigureQuery(first, last)
    return await _answer(db, principal.context, "cohorts", query, fmt, clock.now())


@router.get("/customer-value")
async def customer_value(
    principal: Reader,
    db: DbDep,
    clock: ClockDep,
    first: From = None,
    last: To = None,
    group_by: Annotated[str, Query(max_length=32)] = "membership",
    fmt: FormatQuery = "json",
) -> Response:
    """Customers, orders, revenue, AOV and purchase frequency per group (members vs not)."""
    query = FigureQuery(first, last, group_by=group_by)
    return await _answer(db, principal.context, "customer_value", query, fmt, clock.now())


@router.get("/launch")
async def launch(
    principal: Reader,
    db: DbDep,
    clock: ClockDep,
    first: From = None,
    last: To = None,
    fmt: FormatQuery = "json",
) -> Response:
    """Orders, customers, revenue and AOV before and after the programme's launch day."""
    query = FigureQuery(first, last)
    return await _answer(db, principal.context, "launch", query, fmt, clock.now())


@router.get("/revenue")
async def revenue(
    principal: Reader,
    db: DbDep,
    clock: ClockDep,
    first: From = None,
    last: To = None,
    granularity: GranularityQuery = Granularity.MONTH,
    fmt: FormatQuery = "json",
) -> Response:
    """Revenue per period, in total and from members, with the members' share."""
    query = FigureQuery(first, last, granularity)
    return await _answer(db, principal.context, "revenue", query, fmt, clock.now())


@router.get("/points")
async def points(
    principal: Reader,
    db: DbDep,
    clock: ClockDep,
    first: From = None,
    last: To = None,
    granularity: GranularityQuery = Granularity.MONTH,
    fmt: FormatQuery = "json",
) -> Response:
    """Points issued, reversed, redeemed and expired per period; redemption and breakage."""
    query = FigureQuery(first, last, granularity)
    return await _answer(db, principal.context, "points", query, fmt, clock.now())


@router.get("/liability")
async def liability(
    principal: Reader, db: DbDep, clock: ClockDep, fmt: FormatQuery = "json"
) -> Response:
    """Outstanding points now and their liability: points x value x (1 - expected breakage)."""
    return await _answer(db, principal.context, "liability", FigureQuery(), fmt, clock.now())
