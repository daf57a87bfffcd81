"""The ``loyalty`` command."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from loyalty import bootstrap
from loyalty.config import Settings
from loyalty.domain.errors import DomainError
from loyalty.services import checks, demo, jobs, tenants
from loyalty.services.context import SystemClock

app = typer.Typer(
    help="Loyalty Engine: points, tiers, rewards for online stores.", no_args_is_help=True
)
tenant_app = typer.Typer(help="Tenants (stores) and their programmes.", no_args_is_help=True)
key_app = typer.Typer(help="API keys.", no_args_is_help=True)
jobs_app = typer.Typer(help="Periodic ledger jobs.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(key_app, name="key")
app.add_typer(jobs_app, name="jobs")
console = Console(stderr=True)

DEMO_TENANT = "demo"


def _now() -> datetime:
    return datetime.now(UTC)


def _fail(error: DomainError) -> None:
    console.print(f"[red]error:[/red] {error.detail}")
    raise typer.Exit(2)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    settings = Settings()
    with bootstrap.opened(settings):
        console.print(f"schema is up to date on {settings.database_url}")


@tenant_app.command("create")
def tenant_create(
    name: str,
    currency: Annotated[str, typer.Option(help="ISO 4217 code of the programme's currency")],
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Warsaw")] = "UTC",
    locale: Annotated[str, typer.Option(help="default language: en, pl, ro, ru")] = "en",
) -> None:
    """Create a tenant with its programme; prints one line: api_key=<secret>."""
    with bootstrap.opened() as db:
        try:
            created = tenants.create_tenant(db, name, currency.upper(), timezone, locale, _now())
        except DomainError as error:
            _fail(error)
            return
    print(f"api_key={created.api_key}")


@key_app.command("create")
def key_create(
    tenant: str,
    name: Annotated[str, typer.Option()] = "key",
    scope: Annotated[list[str] | None, typer.Option(help="read, write, admin (repeat)")] = None,
) -> None:
    """Create another API key for a tenant; prints api_key=<secret>."""
    with bootstrap.opened() as db:
        try:
            key = tenants.create_key(db, tenant, name, tuple(scope or ["read", "write"]), _now())
        except DomainError as error:
            _fail(error)
            return
    print(f"api_key={key}")


@key_app.command("revoke")
def key_revoke(key: Annotated[str, typer.Argument(help="the key, or its public prefix")]) -> None:
    """Revoke a key; it stops working at once."""
    with bootstrap.opened() as db:
        revoked = tenants.revoke_key(db, key, _now())
    if not revoked:
        console.print("[red]no active key with that prefix[/red]")
        raise typer.Exit(1)
    console.print("revoked")


@jobs_app.command("run")
def jobs_run(
    now: Annotated[
        datetime | None, typer.Option(help="run as of this time (ISO 8601, UTC if no offset)")
    ] = None,
) -> None:
    """Release due pending points and expire due points, once. Safe to repeat."""
    moment = (now or _now()).replace(tzinfo=(now.tzinfo if now and now.tzinfo else UTC))
    with bootstrap.opened() as db:
        report = jobs.run_due_jobs(db, moment)
    for name, count in report.to_dict().items():
        print(f"{name}={count}")


import_app = typer.Typer(
    help="Load order or customer history from CSV or JSON Lines files.", no_args_is_help=True
)
app.add_typer(import_app, name="import")

MapOption = Annotated[
    list[str] | None,
    typer.Option("--map", help="our_field=their_column, e.g. --map order_id=InvoiceNo (repeat)"),
]


def _mapping(pairs: list[str] | None) -> dict[str, str]:
    mapping = {}
    for pair in pairs or []:
        ours, _, theirs = pair.partition("=")
        if not theirs:
            console.print(f"[red]error:[/red] --map wants our_field=their_column, got '{pair}'")
            raise typer.Exit(2)
        mapping[ours.strip()] = theirs.strip()
    return mapping


def _run_import(tenant: str, path: Path, kind: str, mapping: dict[str, str], earn: bool) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from loyalty.integrations.files import read_rows
    from loyalty.services import imports
    from loyalty.services.program import load_context

    if not path.exists():
        console.print(f"[red]error:[/red] no such file {path}")
        raise typer.Exit(2)
    with bootstrap.opened() as db:
        with db.admin(read_only=True) as admin:
            row = admin.find_tenant(tenant)
        if row is None:
            console.print(f"[red]error:[/red] no tenant named '{tenant}'")
            raise typer.Exit(2)
        with db.read(row["id"]) as uow:
            ctx = load_context(uow, actor=f"import:{path.name}")
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn(
                "{task.fields[rows]:,} rows  {task.fields[rate]:,.0f} rows/s  {task.fields[errors]} errors"
            ),
            TimeElapsedColumn(),
        )
        size = path.stat().st_size
        with Progress(*columns, console=console) as bar, path.open("rb") as probe:
            task = bar.add_task(f"importing {path.name}", total=size, rows=0, rate=0.0, errors=0)
            started = _now()

            def progress(report: imports.ImportReport) -> None:
                elapsed = max((_now() - started).total_seconds(), 1e-6)
                position = min(size, probe.seek(0, 2))
                done = (
                    size
                    if report.seconds
                    else position * min(1.0, report.rows / max(report.rows, 1))
                )
                bar.update(
                    task,
                    completed=done,
                    rows=report.rows,
                    rate=report.rows / elapsed,
                    errors=len(report.errors),
                )

            rows = read_rows(path)
            if kind == "orders":
                report = imports.import_orders(
                    db,
                    ctx,
                    rows,
                    _now(),
                    mapping=mapping,
                    earn=earn,
                    progress=progress,
                    parse_apart=True,  # the file is parsed in a second process
                )
            else:
                report = imports.import_customers(
                    db, ctx, rows, _now(), mapping=mapping, progress=progress
                )
    for line, reason in report.errors[:50]:
        print(f"line {line}: {reason}")
    if len(report.errors) > 50:
        print(f"... and {len(report.errors) - 50} more errors")
    summary = report.to_dict()
    print(
        f"rows={summary['rows']} orders={summary['orders']} imported={summary['imported']} "
        f"already_there={summary['already_there']} errors={summary['error_count']} "
        f"seconds={summary['seconds']} rows_per_s={report.rows_per_second:.0f}"
    )


@import_app.command("orders")
def import_orders(
    path: Path,
    tenant: Annotated[str, typer.Option(help="the tenant's name")],
    mapping: MapOption = None,
    history_only: Annotated[bool, typer.Option(help="load for analytics, award no points")] = False,
) -> None:
    """Import order history (one row per order line; an order's rows consecutive).

    Default columns: order_id, customer_id, email, ordered_at, currency, sku, product_id,
    category, quantity, unit_price, discount, shipping, tax. Re-running the same file changes
    nothing; bad rows are listed with their line numbers and skip only their own order.
    """
    _run_import(tenant, path, "orders", _mapping(mapping), not history_only)


@import_app.command("customers")
def import_customers(
    path: Path,
    tenant: Annotated[str, typer.Option(help="the tenant's name")],
    mapping: MapOption = None,
) -> None:
    """Import customers as members. Columns: customer_id, email, phone, first_name,
    last_name, birthday, locale."""
    _run_import(tenant, path, "customers", _mapping(mapping), True)


analytics_app = typer.Typer(
    help="Customer profiles and segments; the programme analytics read model.",
    no_args_is_help=True,
)
app.add_typer(analytics_app, name="analytics")


@analytics_app.command("refresh")
def analytics_refresh(
    tenant: Annotated[str, typer.Option(help="the tenant's name")],
    as_of: Annotated[datetime | None, typer.Option(help="compute as of this day")] = None,
) -> None:
    """Recompute every member's profile (RFM, lifecycle, predicted CLV) for a tenant."""
    from loyalty.services import profiles
    from loyalty.services.program import load_context

    with bootstrap.opened() as db:
        with db.admin(read_only=True) as admin:
            row = admin.find_tenant(tenant)
        if row is None:
            console.print(f"[red]error:[/red] no tenant named '{tenant}'")
            raise typer.Exit(2)
        with db.read(row["id"]) as uow:
            ctx = load_context(uow)
        report = profiles.refresh_profiles(db, ctx, _now(), as_of.date() if as_of else None)
    for name, value in report.to_dict().items():
        print(f"{name}={value}")


@analytics_app.command("snapshot")
def analytics_snapshot(tenant: Annotated[str, typer.Option(help="the tenant's name")]) -> None:
    """Build (or catch up) and save the programme analytics read model of a tenant, so the
    first request after a restart or a large import does not read the whole history."""
    from loyalty.services import program_snapshot
    from loyalty.services.program import load_context

    with bootstrap.opened() as db:
        with db.admin(read_only=True) as admin:
            row = admin.find_tenant(tenant)
        if row is None:
            console.print(f"[red]error:[/red] no tenant named '{tenant}'")
            raise typer.Exit(2)
        with db.read(row["id"]) as uow:
            ctx = load_context(uow)
        facts = program_snapshot.build(db, ctx)
    print(f"orders={facts.orders.height}")
    print(f"members={facts.members.height}")
    print(f"ledger_entries={facts.ledger.height}")
    print(f"guest_orders={facts.guests.height}")


@app.command()
def check() -> None:
    """Verify every ledger invariant for every member; exit 1 on any violation."""
    with bootstrap.opened() as db:
        report = checks.check_ledger(db)
    for violation in report.violations:
        print(violation)
    print(f"checked {report.members} members: {len(report.violations)} violations")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    jobs_in_process: Annotated[
        bool, typer.Option("--jobs/--no-jobs", help="run the scheduler here")
    ] = True,
    access_log: Annotated[bool, typer.Option()] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="API processes (more than one needs PostgreSQL)")
    ] = 1,
) -> None:
    """Serve the API (and the scheduler) with uvicorn."""
    _serve(host, port, jobs_in_process, access_log, workers)


def _serve(host: str, port: int, jobs_in_process: bool, access_log: bool, workers: int) -> None:
    import uvicorn

    from loyalty.api.app import create_app
    from loyalty.jobs.scheduler import Scheduler
    from loyalty.jobs.webhooks import WebhookWorker

    settings = Settings()
    if workers > 1 and settings.database_url.startswith("sqlite"):
        typer.echo(
            "several API processes need PostgreSQL: SQLite has one writer, and one process "
            "already shares each commit among concurrent requests",
            err=True,
        )
        raise typer.Exit(2)
    # The writer thread and the event loop share the GIL; a short switch interval keeps the
    # loop answering while a group of writes is being applied (the default is 5 ms).
    sys.setswitchinterval(settings.switch_interval_seconds)
    db = bootstrap.database(settings)  # migrated once, here, before any worker starts
    clock = SystemClock()
    scheduler = Scheduler(db, clock, settings.jobs_interval_seconds) if jobs_in_process else None
    delivery = WebhookWorker(db, clock) if jobs_in_process else None
    for background in (scheduler, delivery):
        if background:
            background.start()
    try:
        if workers > 1:  # each worker builds its own app; the jobs stay in this process
            uvicorn.run(
                "loyalty.api.app:app_from_environment",
                factory=True,
                workers=workers,
                host=host,
                port=port,
                access_log=access_log,
                log_level="info",
            )
        else:
            uvicorn.run(
                create_app(db, clock, settings.secret_key),
                host=host,
                port=port,
                access_log=access_log,
                log_level="info",
            )
    finally:
        for background in (scheduler, delivery):
            if background:
                background.stop()
        db.close()


@app.command()
def worker(
    lease_seconds: Annotated[float, typer.Option(help="how long a claimed delivery is ours")] = 60,
    jobs_too: Annotated[
        bool, typer.Option("--jobs/--no-jobs", help="also run the ledger jobs")
    ] = True,
) -> None:
    """Deliver outbound webhooks (and run the ledger jobs); run as many as you like."""
    from datetime import timedelta

    from loyalty.jobs.scheduler import Scheduler
    from loyalty.jobs.webhooks import WebhookWorker

    settings = Settings()
    with bootstrap.opened(settings) as db:
        clock = SystemClock()
        scheduler = Scheduler(db, clock, settings.jobs_interval_seconds) if jobs_too else None
        if scheduler:
            scheduler.start()
        delivery = WebhookWorker(db, clock, lease=timedelta(seconds=lease_seconds))
        console.print("worker running; Ctrl-C to stop")
        try:
            delivery.run_forever()
        except KeyboardInterrupt:
            pass
        finally:
            delivery.stop()
            if scheduler:
                scheduler.stop()


@app.command("demo")
def demo_command(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
) -> None:
    """Create a demo tenant with realistic history, print its API key and URLs, and serve."""
    db = bootstrap.database()
    now = _now()
    with db.admin(read_only=True) as admin:
        existing = admin.find_tenant(DEMO_TENANT)
    if existing is None:
        created = tenants.create_tenant(
            db,
            DEMO_TENANT,
            "PLN",
            "Europe/Warsaw",
            "pl",
            now,
            pending_days=14,
            expiry={"kind": "days_after_earn", "days": 365},
        )
        console.print("seeding demo history (300 members, 6 months)...")
        count = demo.seed(db, created.tenant_id, now)
        console.print(f"replayed {count} events")
        key = created.api_key
    else:
        key = tenants.create_key(db, DEMO_TENANT, "demo", ("read", "write", "admin"), now)
    base = f"http://{host}:{port}"
    print(f"api_key={key}")
    print(f"api docs: {base}/docs")
    print(f"try:      curl -H 'Authorization: Bearer {key}' {base}/v1/members/demo-0001")
    if serve_after:
        _serve(host, port, True, False)


if __name__ == "__main__":  # pragma: no cover
    app()
