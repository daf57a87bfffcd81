"""Unit of work: one short transaction with repositories scoped to one tenant."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from loyalty.store.admin import TenantRepository
from loyalty.store.db import READ_ONLY
from loyalty.store.inbox import IdempotencyRepository, InboxRepository
from loyalty.store.ledger import LedgerRepository
from loyalty.store.members import MemberRepository
from loyalty.store.orders import OrderRepository
from loyalty.store.programs import ProgramRepository
from loyalty.store.tables import audit_log


class UnitOfWork:
    """Repositories over one connection, every query scoped to ``tenant_id``."""

    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.members = MemberRepository(conn, tenant_id)
        self.ledger = LedgerRepository(conn, tenant_id)
        self.orders = OrderRepository(conn, tenant_id)
        self.inbox = InboxRepository(conn, tenant_id)
        self.idempotency = IdempotencyRepository(conn, tenant_id)
        self.programs = ProgramRepository(conn, tenant_id)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an error inside undoes only what happened inside."""
        with self.conn.begin_nested():
            yield

    def audit(self, actor: str, action: str, target: str | None, data: Any, now: datetime) -> None:
        self.conn.execute(
            audit_log.insert().values(
                tenant_id=self.tenant_id,
                actor=actor,
                action=action,
                target=target,
                data=data,
                created_at=now,
            )
        )


class Database:
    """Opens units of work on an engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite has one writer at a time. Queueing writers of this process on a lock is far
        # cheaper than letting them spin in SQLite's busy handler (which sleeps up to 100 ms).
        self._write_lock = threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction (cross-tenant: for set-based jobs only)."""
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def transaction(self, tenant_id: int) -> Iterator[UnitOfWork]:
        with self.begin() as conn:
            yield UnitOfWork(conn, tenant_id)

    @contextmanager
    def read(self, tenant_id: int) -> Iterator[UnitOfWork]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(**READ_ONLY)
            with conn.begin():
                yield UnitOfWork(conn, tenant_id)

    @contextmanager
    def admin(self, *, read_only: bool = False) -> Iterator[TenantRepository]:
        lock: AbstractContextManager[object] = nullcontext() if read_only else self._write_lock
        with lock, self.engine.connect() as conn:
            if read_only:
                conn = conn.execution_options(**READ_ONLY)
            with conn.begin():
                yield TenantRepository(conn)
