"""The Alembic migrations build exactly the schema that store/tables.py describes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from loyalty.store.db import make_engine
from loyalty.store.tables import metadata


def test_migrations_match_the_table_definitions(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == []
