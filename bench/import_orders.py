"""History import into the ledger, on the UCI Online Retail file and on one-line orders.

    .venv/bin/python -m bench.import_orders [--synthetic 100000]

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

from bench import _harness as h
from loyalty.bootstrap import database
from loyalty.config import Settings
from loyalty.integrations.files import read_rows
from loyalty.services import imports
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


def run(path: Path, mapping: dict[str, str], currency: str, workdir: Path) -> dict[str, object]:
    db = database(Settings(database_url=h.sqlite_url(workdir)))
    tenant = create_tenant(
        db, f"import-{path.stem}", currency, "Europe/London", "en", datetime.now(UTC)
    )
    with db.read(tenant.tenant_id) as uow:
        ctx = load_context(uow)
    started = time.perf_counter()
    report = imports.import_orders(db, ctx, read_rows(path), datetime.now(UTC), mapping=mapping)
    seconds = time.perf_counter() - started
    db.close()
    return {
        "file": path.name,
        "rows": report.rows,
        "orders_seen": report.orders,
        "orders_imported": report.imported,
        "rows_reported": len(report.errors),
        "seconds": round(seconds, 2),
        "rows_per_s": round(report.rows / seconds),
        "orders_per_s": round(report.orders / seconds),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


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
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        if RETAIL.exists():
            (Path(workdir) / "retail").mkdir()
            results.append(run(RETAIL, RETAIL_MAPPING, "GBP", Path(workdir) / "retail"))
        one_line = synthetic(Path(workdir) / "one_line_orders.csv", args.synthetic)
        (Path(workdir) / "synthetic").mkdir()
        results.append(run(one_line, {}, "GBP", Path(workdir) / "synthetic"))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
