"""Helpers for the HTTP tests: an authenticated client per shop and a view of what is stored."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from loyalty.api.app import create_app
from loyalty.services.checks import check_ledger
from loyalty.services.context import FixedClock
from loyalty.services.tenants import create_key
from loyalty.store import tables
from tests.conftest import NOW, Shop

PROBLEM_JSON = "application/problem+json"

# Every table a tenant's requests can write to.
_TENANT_TABLES = (
    tables.members,
    tables.ledger_entries,
    tables.lots,
    tables.allocations,
    tables.orders,
    tables.refunds,
    tables.inbox_events,
    tables.idempotency_keys,
    tables.audit_log,
    tables.tier_ladders,
    tables.member_tiers,
    tables.tier_history,
    tables.membership_plans,
    tables.memberships,
    tables.membership_history,
    tables.promotions,
    tables.promotion_codes,
    tables.promotion_member_usage,
    tables.checkouts,
)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def client_for(
    shop: Shop, headers: dict[str, str] | None = None, now: datetime = NOW
) -> Iterator[TestClient]:
    """A client on a fresh app whose clock says ``now``; ``headers`` default to the admin key."""
    app = create_app(shop.db, FixedClock(now))
    with TestClient(app, headers=bearer(shop.api_key) if headers is None else headers) as client:
        yield client


@dataclass
class Api:
    """One shop (tenant) and a client holding its admin key."""

    shop: Shop
    client: TestClient

    def state(self) -> dict[str, Any]:
        return stored_state(self.shop)

    def key(self, *scopes: str) -> str:
        return new_key(self.shop, *scopes)

    def event(self, body: dict[str, Any], **kwargs: Any) -> Response:
        return self.client.post("/v1/events", json=body, **kwargs)

    def member(self, external_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/members/{external_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def balances(self, external_id: str) -> dict[str, Any]:
        balances: dict[str, Any] = self.member(external_id)["balances"]
        return balances

    def ledger(self, external_id: str) -> list[dict[str, Any]]:
        """Every ledger entry of a member, newest first, following the cursor to the end."""
        entries: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 500}
            if after:
                params["after"] = after
            response = self.client.get(f"/v1/members/{external_id}/ledger", params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            entries += page["items"]
            after = page["next"]
            if after is None:
                return entries

    def assert_ledger_clean(self) -> None:
        report = check_ledger(self.shop.db, self.shop.tenant_id)
        assert report.ok, [str(v) for v in report.violations]


def stored_state(shop: Shop) -> dict[str, Any]:
    """Row counts of every tenant table, each member's balances and the programme version."""
    with shop.db.read(shop.tenant_id) as uow:
        conn = uow.conn
        counts = {
            table.name: conn.execute(
                select(func.count()).select_from(table).where(table.c.tenant_id == shop.tenant_id)
            ).scalar_one()
            for table in _TENANT_TABLES
        }
        m = tables.members
        balances = {
            row.external_id: (row.available, row.pending, row.lifetime_earned, row.debt)
            for row in conn.execute(
                select(
                    m.c.external_id, m.c.available, m.c.pending, m.c.lifetime_earned, m.c.debt
                ).where(m.c.tenant_id == shop.tenant_id)
            )
        }
        program = conn.execute(
            select(tables.programs.c.version, tables.programs.c.settings).where(
                tables.programs.c.tenant_id == shop.tenant_id
            )
        ).one()
    return {
        "counts": counts,
        "balances": balances,
        "program": (program.version, program.settings),
    }


def new_key(shop: Shop, *scopes: str) -> str:
    """Another API key for the shop's tenant, with only the given scopes."""
    with shop.db.admin(read_only=True) as admin:
        name = admin.conn.execute(
            select(tables.tenants.c.name).where(tables.tenants.c.id == shop.tenant_id)
        ).scalar_one()
    return create_key(shop.db, name, f"test-{'-'.join(scopes)}", scopes, NOW)


def assert_problem(
    response: Response, status: int, code: str, field: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status, code and (if given) field."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"] == f"/problems/{code}"
    assert body["title"] and body["detail"]
    if field is not None:
        assert body.get("field") == field, body
    return body
