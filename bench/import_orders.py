"""History import into the ledger, on the UCI Online Retail file and on one-line orders.

    .venv/bin/python -m bench.import_orders [--synthetic 100000] [--retail FILE] [--in-process]

The file is parsed in a second process (``parse_apart``, as ``loyalty import orders`` does);
``--in-process`` parses it in the writing process instead. The ledger check runs after each
import and its verdict is part of the result.

Online Retail (../shared/datasets/online-retail): 541,909 rows, 25,900 invoices of ~21 lines;
returns (negative quantities) and guest rows are reported, not imported.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from bench import _harness as h
from loyalty.bootstrap import database
from loyalty.config import Settings
from loyalty.integrations.files import read_rows
from loyalty.services import imports
from loyalty.services.checks import check_ledger
from loyalty.services.program import load_context
from loyalty.services.tenants import create_tenant

RETAIL = h.ROOT.parent / "shared" / "datasets" / "online-retail" / "online-retail.csv.gz"
RETAIL_MAPPING = {
    "order_id": "InvoiceNo",
    "customer_id": "CustomerID",
    "ordered_at": "InvoiceDate",
    "sku": "StockCode",
    "quantity": "Quantity",
    "unit_price": "UnitPrice",
}


def run(
    path: Path, mapping: dict[str, str], currency: str, workdir: Path, apart: bool
) -> dict[str, object]:
    db = database(Settings(database_url=h.sqlite_url(workdir)))
    tenant = create_tenant(
        db, f"import-{path.stem}", currency, "Europe/London", "en", datetime.now(UTC)
    )
    with db.read(tenant.tenant_id) as uow:
        ctx = load_context(uow)
    cpu_before = _cpu()
    started = time.perf_counter()
    report = imports.import_orders(
        db, ctx, read_rows(path), datetime.now(UTC), mapping=mapping, parse_apart=apart
    )
    seconds = time.perf_counter() - started
    cpu = _cpu() - cpu_before
    with db.read(tenant.tenant_id) as uow:
        members = uow.conn.execute(text("SELECT count(*) FROM members")).scalar_one()
    clean = check_ledger(db, tenant.tenant_id).ok
    db.close()
    return {
        "file": path.name,
        "parse_apart": apart,
        "rows": report.rows,
        "orders_seen": report.orders,
        "orders_imported": report.imported,
        "rows_reported": len(report.errors),
        "seconds": round(seconds, 2),
        "rows_per_s": round(report.rows / seconds),
        "orders_per_s": round(report.orders / seconds),
        # CPU seconds of this process and the parsing one: what the load on the machine
        # does not change much, unlike the wall-clock rates above
        "cpu_seconds": round(cpu, 2),
        "cpu_us_per_order": round(cpu / report.orders * 1e6, 1),
        "members": members,
        "ledger_check_clean": clean,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        # the forked parser's (the largest child's; none with --in-process)
        "parser_max_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    }


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def synthetic(path: Path, orders: int) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "customer_id", "ordered_at", "sku", "quantity", "unit_price"])
        for n in range(orders):
            writer.writerow(
                [f"S{n}", f"c{n % 20000}", "2026-01-15 10:00:00", f"SKU-{n % 500}", 1, "25.90"]
            )
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synthetic", type=int, default=100_000)
    parser.add_argument("--retail", type=Path, default=RETAIL, help="the Online Retail file")
    parser.add_argument("--no-retail", action="store_true")
    parser.add_argument(
        "--in-process", action="store_true", help="parse in the writing process (one core)"
    )
    args = parser.parse_args()
    apart = not args.in_process
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        if args.retail.exists() and not args.no_retail:
            (Path(workdir) / "retail").mkdir()
            results.append(run(args.retail, RETAIL_MAPPING, "GBP", Path(workdir) / "retail", apart))
        one_line = synthetic(Path(workdir) / "one_line_orders.csv", args.synthetic)
        (Path(workdir) / "synthetic").mkdir()
        results.append(run(one_line, {}, "GBP", Path(workdir) / "synthetic", apart))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
