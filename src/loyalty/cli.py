"""The ``loyalty`` command."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
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
) -> None:
    """Serve the API (and the scheduler) with uvicorn."""
    _serve(host, port, jobs_in_process, access_log)


def _serve(host: str, port: int, jobs_in_process: bool, access_log: bool) -> None:
    import uvicorn

    from loyalty.api.app import create_app
    from loyalty.jobs.scheduler import Scheduler
    from loyalty.jobs.webhooks import WebhookWorker

    settings = Settings()
    # The writer thread and the event loop share the GIL; a short switch interval keeps the
    # loop answering while a group of writes is being applied (the default is 5 ms).
    sys.setswitchinterval(settings.switch_interval_seconds)
    db = bootstrap.database(settings)
    clock = SystemClock()
    scheduler = Scheduler(db, clock, settings.jobs_interval_seconds) if jobs_in_process else None
    delivery = WebhookWorker(db, clock) if jobs_in_process else None
    for background in (scheduler, delivery):
        if background:
            background.start()
    try:
        uvicorn.run(
            create_app(db, clock), host=host, port=port, access_log=access_log, log_level="info"
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
