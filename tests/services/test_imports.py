"""History import: mapping, bad rows with line numbers, re-runs, history-only, old dates."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from loyalty.domain.errors import NotFound
from loyalty.integrations.files import read_rows
from loyalty.services import imports, jobs, members, rules
from loyalty.services.checks import check_ledger
from tests.conftest import NOW, Shop

HEADER = "Invoice,Customer,When,Item,Qty,Price\n"
ROWS = [
    "A1,17850.0,2025-01-10 10:00:00,SKU-1,2,10.50\n",  # line 2
    "A1,17850.0,2025-01-10 10:00:00,SKU-2,1,4.00\n",  # line 3: same order
    "A2,13047.0,2025-02-01 09:30:00,SKU-1,1,abc\n",  # line 4: bad price, order A2 skipped
    "C3,13047.0,2025-02-02 09:30:00,SKU-1,-1,10.50\n",  # line 5: a return row
    "A4,,2025-02-03 09:30:00,SKU-3,1,5.00\n",  # line 6: a guest with no email
    "A5,12583.0,2026-03-01 08:00:00,SKU-3,3,20.00\n",  # line 7
]
MAPPING = {
    "order_id": "Invoice",
    "customer_id": "Customer",
    "ordered_at": "When",
    "sku": "Item",
    "quantity": "Qty",
    "unit_price": "Price",
}


def write_csv(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "".join(ROWS))
    return path


def balances(shop: Shop, member: str) -> dict[str, Any]:
    with shop.db.read(shop.tenant_id) as uow:
        return members.get_member(uow, shop.ctx, member, NOW)["balances"]


def test_import_maps_columns_groups_lines_and_reports_bad_rows(shop: Shop, tmp_path: Path) -> None:
    # given a CSV in the shop's own layout
    path = write_csv(tmp_path)
    # when it is imported with a column mapping
    report = imports.import_orders(shop.db, shop.ctx, read_rows(path), NOW, mapping=MAPPING)
    # then good orders are in, and each bad row is reported with its line and reason
    assert (report.rows, report.orders, report.imported) == (6, 5, 2)
    reasons = dict(report.errors)
    assert set(reasons) == {4, 5, 6}
    assert "unit_price 'abc'" in reasons[4]
    assert "not positive" in reasons[5]
    assert "guest" in reasons[6]
    assert balances(shop, "17850")["lifetime_earned"] == 25  # 2 x 10.50 + 4.00, floored once
    assert balances(shop, "12583")["available"] == 60
    assert check_ledger(shop.db, shop.tenant_id).ok


def test_running_the_same_file_again_changes_nothing(shop: Shop, tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    imports.import_orders(shop.db, shop.ctx, read_rows(path), NOW, mapping=MAPPING)
    again = imports.import_orders(shop.db, shop.ctx, read_rows(path), NOW, mapping=MAPPING)
    assert again.imported == 0 and again.already_there == 2
    assert balances(shop, "17850")["available"] == 25


def test_history_sends_no_webhooks_and_keeps_no_inbox_rows(shop: Shop, tmp_path: Path) -> None:
    # given the outbox and inbox as they are (outbox rows are written whether or not anyone
    # subscribes; the worker fans them out later)
    with shop.db.transaction(shop.tenant_id) as uow:
        before = count_rows(uow, "outbox_events"), count_rows(uow, "inbox_events")
    # when years of orders are imported in chunks smaller than the file
    path = write_csv(tmp_path)
    imports.import_orders(shop.db, shop.ctx, read_rows(path), NOW, mapping=MAPPING)
    # then the ledger has them but no old order turns into a webhook or an inbox row
    with shop.db.transaction(shop.tenant_id) as uow:
        assert (count_rows(uow, "outbox_events"), count_rows(uow, "inbox_events")) == before
        assert count_rows(uow, "orders") == 2
    assert balances(shop, "17850")["lifetime_earned"] == 25


def test_history_for_a_tenant_with_rules_sends_no_webhooks(shop: Shop, tmp_path: Path) -> None:
    # given an earning rule (any rule sends the import's orders one by one) and the outbox
    with shop.db.transaction(shop.tenant_id) as uow:
        rule = {
            "name": "custom +5",
            "trigger": "custom.x",
            "effect": {"kind": "fixed_points", "points": 5},
        }
        rules.create_rule(uow, shop.ctx, rule, NOW)
        before = count_rows(uow, "outbox_events")
    # when years of orders are imported
    path = write_csv(tmp_path)
    imports.import_orders(shop.db, shop.ctx, read_rows(path), NOW, mapping=MAPPING)
    # then they earn as usual, and no old order or new member turns into a webhook
    with shop.db.transaction(shop.tenant_id) as uow:
        assert count_rows(uow, "outbox_events") == before
        assert count_rows(uow, "orders") == 2
    assert balances(shop, "17850")["lifetime_earned"] == 25
    assert check_ledger(shop.db, shop.tenant_id).ok


def test_chunks_are_written_in_order_while_the_next_is_parsed(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "CHUNK", 2)
    path = tmp_path / "many.csv"
    rows = [f"B{n},c{n % 3},2026-02-0{1 + n % 9} 10:00:00,S,1,{n}.00\n" for n in range(1, 12)]
    path.write_text(HEADER + "".join(rows))
    report = imports.import_orders(shop.db, shop.ctx, read_rows(path), NOW, mapping=MAPPING)
    assert (report.orders, report.imported, report.errors) == (11, 11, [])
    assert sum(balances(shop, f"c{k}")["lifetime_earned"] for k in range(3)) == sum(range(1, 12))
    assert check_ledger(shop.db, shop.tenant_id).ok


SAME_TEXTS = [
    "E1,c1,2025-06-01 10:00:00,S,1,10.5\n",  # line 2
    "E2,c2,2025-06-01 10:00:00,S,1,10.50\n",  # line 3: the same price, written otherwise
    "E3,c1,2025-06-01 10:00:00,S,1,10.5\n",  # line 4: E1's texts again
    "E4,c3,2025-06-01 10:00:00,S,0,10.5\n",  # line 5: a bad quantity
    "E5,c3,2025-06-01 10:00:00,S,0,10.5\n",  # line 6: the same bad row again
    "E6,c4,yesterday,S,1,10.5\n",  # line 7: a bad time
    "E7,c4,yesterday,S,1,10.5\n",  # line 8: the same bad time again
    "E8,c5,2025-06-01 10:00:00,S,1,10.5\n",  # line 9: after the bad ones
    "E8,c5,2025-06-01 10:00:00,T,2,10.50\n",  # line 10: E8's second line
]


def test_repeated_texts_give_each_order_its_own_rows_and_each_bad_row_its_report(
    shop: Shop, tmp_path: Path
) -> None:
    # given lines, order values and times that repeat (the parser works each out once)
    path = tmp_path / "same.csv"
    path.write_text(HEADER + "".join(SAME_TEXTS))
    # when the file is imported
    report = imports.import_orders(shop.db, shop.ctx, read_rows(path), NOW, mapping=MAPPING)
    # then every repeat of a bad row is reported on its own line with the same reason
    assert (report.orders, report.imported) == (8, 4)
    quantity = "quantity 0 is not positive (returns are refunds, not orders)"
    time = "ordered_at 'yesterday' is not an ISO 8601 time"
    assert report.errors == [(5, quantity), (6, quantity), (7, time), (8, time)]
    # and each order keeps its own id and the prices as written
    with shop.db.read(shop.tenant_id) as uow:
        query = text(
            "SELECT order_id, lines FROM orders WHERE tenant_id = :t AND order_id LIKE 'E%'"
        )
        stored = dict(uow.conn.execute(query, {"t": shop.tenant_id}).all())
    prices = {
        order_id: [line["unit_price"] for line in (json.loads(v) if isinstance(v, str) else v)]
        for order_id, v in stored.items()
    }
    assert prices == {
        "E1": ["10.5"],
        "E2": ["10.50"],
        "E3": ["10.5"],
        "E8": ["10.5", "10.50"],
    }
    assert balances(shop, "c1")["lifetime_earned"] == 20  # E1 and E3: 10 points each
    assert balances(shop, "c5")["lifetime_earned"] == 31  # 10.5 + 2 x 10.50, floored once
    assert check_ledger(shop.db, shop.tenant_id).ok


REPEATS = [
    "D1,c1,2025-05-01 10:00:00,S,1,10.00\n",  # line 2
    "D1,c1,2025-05-01 10:00:00,T,1,5.00\n",  # line 3: D1's second line
    "D2,c2,2025-05-02 10:00:00,S,1,20.00\n",  # line 4
    "D1,c1,2025-05-03 10:00:00,S,9,10.00\n",  # line 5: D1 again, after D2
    "D1,c1,2025-05-03 10:00:00,U,1,1.00\n",  # line 6: part of that repeat
    "D3,c3,2025-05-04 10:00:00,S,1,abc\n",  # line 7: bad price
    "D4,c4,2025-05-05 10:00:00,S,1,30.00\n",  # line 8
    "D3,c3,2025-05-06 10:00:00,S,1,7.00\n",  # line 9: D3 again (its first try was bad)
    "D2,c2,2025-05-07 10:00:00,S,1,20.00\n",  # line 10: D2 again, same content
]


@pytest.mark.parametrize(("chunk", "memory_ids"), [(2, 1), (3, 250_000), (2_000, 250_000)])
def test_an_order_id_repeated_later_in_the_file_is_a_duplicate_row(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, memory_ids: int
) -> None:
    # chunks of 2 and 3 put the first appearance and the repeat in different chunks; with
    # memory for one id the seen ids move to the temporary file after the first chunk
    monkeypatch.setattr(imports, "CHUNK", chunk)
    monkeypatch.setattr(imports, "MEMORY_IDS", memory_ids)
    path = tmp_path / "repeats.csv"
    path.write_text(HEADER + "".join(REPEATS))
    report = imports.import_orders(shop.db, shop.ctx, read_rows(path), NOW, mapping=MAPPING)
    assert (report.rows, report.orders, report.imported, report.already_there) == (9, 4, 3, 0)
    assert report.errors == [
        (5, "duplicate order_id 'D1', first seen on line 2"),
        (7, "unit_price 'abc' is not a number"),
        (9, "duplicate order_id 'D3', first seen on line 7"),
        (10, "duplicate order_id 'D2', first seen on line 4"),
    ]
    # only the first appearance counts: D1 is 10.00 + 5.00, not the repeat's 91.00
    assert balances(shop, "c1")["lifetime_earned"] == 15
    with shop.db.read(shop.tenant_id) as uow, pytest.raises(NotFound):
        members.get_member(uow, shop.ctx, "c3", NOW)  # D3's only good row was a repeat
    # a re-run changes nothing: the orders are already there, the repeats still repeats
    before = {m: balances(shop, m) for m in ("c1", "c2", "c4")}
    again = imports.import_orders(shop.db, shop.ctx, read_rows(path), NOW, mapping=MAPPING)
    assert (again.imported, again.already_there) == (0, 3)
    assert again.errors == report.errors
    assert {m: balances(shop, m) for m in ("c1", "c2", "c4")} == before
    assert check_ledger(shop.db, shop.tenant_id).ok


def test_the_ids_seen_in_a_run_move_to_a_temporary_file_removed_after() -> None:
    seen = imports.SeenOrders(memory_ids=2)
    group = imports.OrderGroup
    first = seen.first_lines([group(2, "A", None), group(3, "B", None), group(4, "A", None)])
    assert first == [None, None, 2]
    assert not seen.on_disk  # two ids fit in memory
    assert seen.first_lines([group(9, "B", None), group(10, "C", None)]) == [3, None]
    assert seen.on_disk  # the third did not: all moved to the file
    assert seen._dir is not None
    folder = Path(seen._dir.name)
    assert (folder / "seen.db").exists()
    assert seen.first_lines([group(11, "A", None), group(12, "C", None)]) == [2, 10]
    seen.close()
    assert not folder.exists()


def count_rows(uow: Any, table: str) -> int:
    query = text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t")
    return int(uow.conn.execute(query, {"t": uow.tenant_id}).scalar())


def test_history_only_records_orders_without_points(shop: Shop, tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    report = imports.import_orders(
        shop.db, shop.ctx, read_rows(path), NOW, mapping=MAPPING, earn=False
    )
    assert report.imported == 2
    assert balances(shop, "17850") == {
        "available": 0,
        "pending": 0,
        "lifetime_earned": 0,
        "negative_balance": 0,
        "expiring_soon": [],
    }


def test_old_points_expire_on_their_own_dates(make_shop: Any, tmp_path: Path) -> None:
    shop = make_shop(pending_days=14, expiry={"kind": "days_after_earn", "days": 365})
    imports.import_orders(shop.db, shop.ctx, read_rows(write_csv(tmp_path)), NOW, mapping=MAPPING)
    # the 2025 order's points were released and have expired by NOW; the 2026 one's are pending
    report = jobs.run_due_jobs(shop.db, NOW, shop.tenant_id)
    assert report.expired == 1
    assert balances(shop, "17850")["available"] == 0
    assert balances(shop, "12583")["pending"] == 60
    jobs.run_due_jobs(shop.db, NOW + timedelta(days=30), shop.tenant_id)
    assert balances(shop, "12583")["available"] == 60
    assert check_ledger(shop.db, shop.tenant_id).ok


def test_jsonl_with_the_default_layout_and_a_broken_line(shop: Shop, tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    lines = [
        {
            "order_id": "J1",
            "customer_id": "c1",
            "email": "C1@Example.com",
            "ordered_at": "2026-03-01T10:00:00Z",
            "sku": "X",
            "quantity": 1,
            "unit_price": "12.00",
        },
        "{not json",
        {
            "order_id": "J2",
            "customer_id": "c2",
            "ordered_at": "2026-03-01T11:00:00+01:00",
            "sku": "Y",
            "quantity": 2,
            "unit_price": "5.00",
            "currency": "EUR",
        },
    ]
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    report = imports.import_orders(shop.db, shop.ctx, read_rows(path), NOW)
    assert report.imported == 1
    assert [line for line, _ in report.errors] == [2, 3]  # bad JSON; EUR in a PLN programme
    with shop.db.read(shop.tenant_id) as uow:
        assert members.get_member(uow, shop.ctx, "c1", NOW)["email"] == "c1@example.com"


def test_customers_import_creates_and_updates_members(shop: Shop, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,email,first_name\n1.0,a@x.pl,Ala\n2,bad-email,Ola\n,z@x.pl,Nobody\n"
    )
    report = imports.import_customers(shop.db, shop.ctx, read_rows(path), NOW)
    assert report.imported == 1
    assert [line for line, _ in report.errors] == [3, 4]
    with shop.db.read(shop.tenant_id) as uow:
        assert members.get_member(uow, shop.ctx, "1", NOW)["first_name"] == "Ala"


def test_a_quantity_that_is_not_a_whole_number_is_a_bad_row(shop: Shop, tmp_path: Path) -> None:
    # given quantities that are fractional, infinite or not a number, and one good row
    rows = [
        "Q1,c1,2025-06-01 10:00:00,S,2.5,10.00\n",  # line 2
        "Q2,c1,2025-06-01 10:00:00,S,Infinity,10.00\n",  # line 3
        "Q3,c1,2025-06-01 10:00:00,S,NaN,10.00\n",  # line 4
        "Q4,c1,2025-06-01 10:00:00,S,2.0,10.00\n",  # line 5: a whole number, written so
    ]
    path = tmp_path / "quantities.csv"
    path.write_text(HEADER + "".join(rows))
    # when the file is imported
    report = imports.import_orders(shop.db, shop.ctx, read_rows(path), NOW, mapping=MAPPING)
    # then each bad quantity is reported on its line (never rounded, never a crash)
    assert report.errors == [
        (2, "quantity '2.5' is not a whole number"),
        (3, "quantity 'Infinity' is not a whole number"),
        (4, "quantity 'NaN' is not a whole number"),
    ]
    assert report.imported == 1
    assert balances(shop, "c1")["lifetime_earned"] == 20
