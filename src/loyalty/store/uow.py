"""Unit of work: one short transaction with repositories scoped to one tenant."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from loyalty.store._raw import RawRunner
from loyalty.store.admin import TenantRepository
from loyalty.store.checkouts import CheckoutRepository
from loyalty.store.coupons import CouponRepository
from loyalty.store.db import READ_ONLY
from loyalty.store.group_commit import GroupCommitter
from loyalty.store.inbox import IdempotencyRepository, InboxRepository
from loyalty.store.ledger import LedgerRepository
from loyalty.store.members import MemberRepository
from loyalty.store.orders import OrderRepository
from loyalty.store.outbox import OutboxRepository
from loyalty.store.programs import ProgramRepository
from loyalty.store.promotions import PromotionRepository
from loyalty.store.referrals import ReferralRepository
from loyalty.store.rewards import RedemptionRepository, RewardRepository
from loyalty.store.rules import RuleRepository
from loyalty.store.tables import audit_log
from loyalty.store.wallet import WalletRepository

T = TypeVar("T")
ItemT = TypeVar("ItemT")


class UnitOfWork:
    """Repositories over one connection, every query scoped to ``tenant_id``."""

    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.raw = raw = RawRunner(conn)
        self._savepoints = 0
        self.members = MemberRepository(conn, tenant_id, raw)
        self.ledger = LedgerRepository(conn, tenant_id, raw)
        self.orders = OrderRepository(conn, tenant_id, raw)
        self.inbox = InboxRepository(conn, tenant_id, raw)
        self.idempotency = IdempotencyRepository(conn, tenant_id)
        self.programs = ProgramRepository(conn, tenant_id)
        self.outbox = OutboxRepository(raw, tenant_id)
        self.referrals = ReferralRepository(conn, tenant_id, raw)
        self.rewards = RewardRepository(conn, tenant_id)
        self.redemptions = RedemptionRepository(conn, tenant_id)
        self.coupons = CouponRepository(conn, tenant_id)
        self.promotions = PromotionRepository(conn, tenant_id, raw)
        self.checkouts = CheckoutRepository(conn, tenant_id)
        self.rules = RuleRepository(conn, tenant_id, raw)
        self.wallet = WalletRepository(conn, tenant_id)

    @property
    def cache_key(self) -> tuple[str, int]:
        """This tenant in this database, for per-process caches (one process may open several
        databases: the tests do, and tenant ids repeat across them)."""
        return str(self.conn.engine.url), self.tenant_id

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an error inside undoes only what happened inside."""
        self._savepoints += 1
        name = f"uow_sp_{self._savepoints}"
        self.raw.savepoint(name)
        try:
            yield
        except BaseException:
            self.raw.rollback_to(name)
            raise
        self.raw.release(name)

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
        self.sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer at a time. Queueing writers of this process on a lock is far
        # cheaper than letting them spin in SQLite's busy handler (which sleeps up to 100 ms).
        self._lock = threading.Lock()
        self._write_lock: AbstractContextManager[object] = (
            self._lock if self.sqlite else nullcontext()
        )
        self._group = GroupCommitter(engine, self._lock) if self.sqlite else None
        # Batchable items (order events) share a writer on every database: on PostgreSQL it
        # turns a burst of single-event requests into one transaction with multi-row writes.
        self._items = self._group or GroupCommitter(engine, threading.Lock())

    def run(self, tenant_id: int, work: Callable[[UnitOfWork], T]) -> T:
        """Run ``work`` in a write transaction and return its result once durably committed."""
        if self._group is not None:
            return self._group.submit(lambda conn: work(UnitOfWork(conn, tenant_id))).result()  # type: ignore[no-any-return]
        with self.transaction(tenant_id) as uow:
            return work(uow)

    def submit(self, tenant_id: int, work: Callable[[UnitOfWork], T]) -> Future[T]:
        """``run`` without waiting (SQLite: queued to the committer thread, so the caller can
        prepare the next piece of work meanwhile). Without a committer it runs here, now."""
        if self._group is not None:
            return self._group.submit(lambda conn: work(UnitOfWork(conn, tenant_id)))
        future: Future[T] = Future()
        try:
            future.set_result(self.run(tenant_id, work))
        except BaseException as error:
            future.set_exception(error)
        return future

    async def run_async(self, tenant_id: int, work: Callable[[UnitOfWork], T]) -> T:
        """``run`` for async code: waits without holding a thread (SQLite), or in a worker thread."""
        if self._group is not None:
            future = self._group.submit(lambda conn: work(UnitOfWork(conn, tenant_id)))
            return await asyncio.wrap_future(future)  # type: ignore[no-any-return]
        return await anyio.to_thread.run_sync(self.run, tenant_id, work)

    async def run_item_async(
        self,
        tenant_id: int,
        key: object,
        item: ItemT,
        apply: Callable[[UnitOfWork, list[ItemT]], list[T]],
    ) -> T:
        """Run ``apply(uow, [item])`` in a write transaction on the writer thread; consecutive
        queued items with the same ``key`` are applied together in one call (``apply`` must
        answer every item on its own, in order). The result comes once durably committed."""
        future = self._items.submit_item_async(
            (tenant_id, key), item, lambda conn, items: apply(UnitOfWork(conn, tenant_id), items)
        )
        return await future  # type: ignore[no-any-return]

    def close(self) -> None:
        self._items.close()
        if self._group is not None:
            self._group.close()
        self.engine.dispose()

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
