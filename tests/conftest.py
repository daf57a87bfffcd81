"""Fixtures: a real database per backend (SQLite always, PostgreSQL when configured) and a
fresh tenant per test, so tests never see each other's data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from loyalty.bootstrap import migrate
from loyalty.domain.program import Program
from loyalty.services.context import TenantContext
from loyalty.services.tenants import create_tenant
from loyalty.store.db import make_engine
from loyalty.store.uow import Database

POSTGRES = os.environ.get("LOYALTY_TEST_POSTGRES", "off")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _backends() -> list[str]:
    return ["sqlite"] if POSTGRES == "off" else ["sqlite", "postgresql"]


def _pg_url(database: str) -> str:
    base = POSTGRES.replace("postgresql://", "postgresql+psycopg://", 1)
    return base.rsplit("/", 1)[0] + "/" + database


@pytest.fixture(scope="session", params=_backends())
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database for the whole session, on each backend in turn."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite')}/loyalty.db"
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        yield url
        return
    name = f"loyalty_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(_pg_url(POSTGRES.rsplit("/", 1)[1]), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(_pg_url(name))
    migrate(engine)
    engine.dispose()
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def db(database_url: str) -> Iterator[Database]:
    engine = make_engine(database_url)
    yield Database(engine)
    engine.dispose()


@dataclass
class Shop:
    """A tenant made for one test."""

    db: Database
    tenant_id: int
    api_key: str
    ctx: TenantContext

    def with_settings(self, **settings: Any) -> Shop:
        program = Program.from_dict({**self.ctx.program.to_dict(), **settings})
        from loyalty.services.program import put_program

        with self.db.transaction(self.tenant_id) as uow:
            put_program(uow, self.ctx, program.to_dict(), NOW)
        self.ctx = TenantContext(self.tenant_id, program, self.ctx.timezone, "test")
        return self


@pytest.fixture
def make_shop(db: Database) -> Callable[..., Shop]:
    def make(currency: str = "PLN", timezone: str = "Europe/Warsaw", **settings: Any) -> Shop:
        name = f"shop-{uuid.uuid4().hex[:10]}"
        created = create_tenant(db, name, currency, timezone, "pl", NOW, **settings)
        with db.read(created.tenant_id) as uow:
            settings_row, _, tz = uow.programs.get()
        ctx = TenantContext(
            created.tenant_id, Program.from_dict(settings_row), ZoneInfo(tz), "test"
        )
        return Shop(db, created.tenant_id, created.api_key, ctx)

    return make


@pytest.fixture
def shop(make_shop: Callable[..., Shop]) -> Shop:
    """A shop with points available at once (no return window) and no expiry."""
    return make_shop(pending_days=0)
