"""The `loyalty` command, run in-process against the test database."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text, update
from typer.testing import CliRunner

from loyalty.cli import app
from loyalty.services import events
from loyalty.store.tables import members
from tests.builders import order_paid
from tests.conftest import NOW, Shop

runner = CliRunner()


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LOYALTY_DATABASE_URL", database_url)
    return database_url


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_tenant_create_prints_one_api_key_line(cli_env: str) -> None:
    result = invoke(
        "tenant", "create", "cli-shop-1", "--currency", "PLN", "--timezone", "Europe/Warsaw"
    )
    assert result.exit_code == 0
    assert re.fullmatch(r"api_key=lk_[0-9a-f]{12}_[\w-]+\n", result.stdout)


def test_tenant_create_rejects_unknown_currency_and_time_zone(cli_env: str) -> None:
    assert invoke("tenant", "create", "cli-shop-2", "--currency", "XXX").exit_code == 2
    bad_tz = invoke(
        "tenant", "create", "cli-shop-3", "--currency", "PLN", "--timezone", "Mars/Base"
    )
    assert bad_tz.exit_code == 2
    assert "time zone" in bad_tz.stderr


def test_key_create_and_revoke(cli_env: str) -> None:
    invoke("tenant", "create", "cli-shop-4", "--currency", "EUR")
    created = invoke("key", "create", "cli-shop-4", "--scope", "read")
    key = created.stdout.strip().removeprefix("api_key=")
    assert created.exit_code == 0 and key.startswith("lk_")
    assert invoke("key", "revoke", key).exit_code == 0
    assert invoke("key", "revoke", key).exit_code == 1  # already revoked


def test_jobs_run_reports_counts(cli_env: str) -> None:
    result = invoke("jobs", "run", "--now", "2030-01-01T00:00:00")
    assert result.exit_code == 0
    assert set(re.findall(r"^(\w+)=\d+$", result.stdout, re.M)) == {
        "released",
        "expired",
        "expired_inactive",
        "debts_settled",
        "expiry_notices",
        "referrals_qualified",
        "tier_changes",
        "memberships_expired",
        "coupons_expired",
        "checkouts_released",
        "birthday_events",
    }


def test_check_is_clean_then_reports_a_tampered_balance(cli_env: str, shop: Shop) -> None:
    events.ingest(shop.db, shop.ctx, order_paid("e1", "m1", "o1", [("a", 1, "100")], NOW), NOW)
    assert invoke("check").exit_code == 0
    # when someone edits a cached balance behind the ledger's back
    with shop.db.engine.begin() as conn:
        conn.execute(
            update(members)
            .where(members.c.tenant_id == shop.tenant_id, members.c.external_id == "m1")
            .values(available=members.c.available + 5)
        )
    result = invoke("check")
    # then check fails and names the member and the broken invariant
    assert result.exit_code == 1
    assert "member m1: balances == sum(ledger)" in result.stdout
    with shop.db.engine.begin() as conn:  # leave the shared database clean for other tests
        conn.execute(
            update(members)
            .where(members.c.tenant_id == shop.tenant_id, members.c.external_id == "m1")
            .values(available=members.c.available - 5)
        )


def test_analytics_snapshot_builds_and_saves_the_read_model(
    cli_env: str, shop: Shop, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOYALTY_ANALYTICS_DIR", str(tmp_path))
    events.ingest(shop.db, shop.ctx, order_paid("e1", "ann", "o1", [("SKU", 1, "10")], NOW), NOW)
    with shop.db.read(shop.tenant_id) as uow:
        name = uow.conn.execute(
            text("SELECT name FROM tenants WHERE id = :id"), {"id": shop.tenant_id}
        ).scalar_one()
    result = invoke("analytics", "snapshot", "--tenant", name)
    assert result.exit_code == 0
    assert result.stdout == "orders=1\nmembers=1\nledger_entries=1\nguest_orders=0\n"
    assert (tmp_path / f"tenant-{shop.tenant_id}" / "current.json").exists()
    assert invoke("analytics", "snapshot", "--tenant", "no-such-shop").exit_code == 2


def test_import_orders_parses_apart_and_a_rerun_earns_nothing_twice(
    cli_env: str, tmp_path: Any
) -> None:
    # given a tenant and a history file with a bad row
    invoke("tenant", "create", "cli-shop-import", "--currency", "GBP")
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,customer_id,ordered_at,sku,quantity,unit_price\n"
        "A1,c1,2025-01-10 10:00:00,S,2,10.50\n"
        "A1,c1,2025-01-10 10:00:00,T,1,4.00\n"
        "A2,c2,2025-02-01 09:30:00,S,1,abc\n"
        "A3,c2,2025-03-01 09:30:00,S,3,20.00\n"
    )
    # when it is imported (the file parsed in a second process), then imported again
    first = invoke("import", "orders", str(path), "--tenant", "cli-shop-import")
    again = invoke("import", "orders", str(path), "--tenant", "cli-shop-import")
    # then the good orders are in once, the bad row is named, and the ledger is clean
    assert first.exit_code == 0 and again.exit_code == 0
    assert "line 4: unit_price 'abc' is not a number" in first.stdout
    assert "rows=4 orders=3 imported=2 already_there=0 errors=1" in first.stdout
    assert "imported=0 already_there=2 errors=1" in again.stdout
    assert invoke("check").exit_code == 0
