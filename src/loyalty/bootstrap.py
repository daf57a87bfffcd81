"""Wires settings, engine and migrations together."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from loyalty.config import Settings
from loyalty.services import program_snapshot
from loyalty.store.db import make_engine
from loyalty.store.uow import Database

MIGRATIONS = Path(__file__).parent / "store" / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent)."""
    command.upgrade(alembic_config(engine), revision)


@contextmanager
def opened(settings: Settings | None = None) -> Iterator[Database]:
    """A migrated database for one command; its connections are closed afterwards."""
    db = database(settings)
    try:
        yield db
    finally:
        db.close()


def database(settings: Settings | None = None, *, run_migrations: bool = True) -> Database:
    settings = settings or Settings()
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    if run_migrations:
        migrate(engine)
    db = Database(engine)
    program_snapshot.configure(db, Path(settings.analytics_dir) if settings.analytics_dir else None)
    return db
