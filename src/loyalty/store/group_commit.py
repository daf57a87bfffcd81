"""Group commit for SQLite: concurrent writes share one durable COMMIT.

SQLite has a single writer and a durable commit costs an fsync. A writer thread takes the
units of work that requests queue up, runs each in its own SAVEPOINT (a failing one undoes only
itself), commits the whole group once, and only then answers every request. Nothing is
acknowledged before it is on disk, and one fsync serves many requests.

Some work comes as *items* of a batchable kind (order events): consecutive items with the same
key are handed to their ``apply`` function together, so a whole run is written with multi-row
statements instead of statement by statement. ``apply`` answers each item on its own (a bad
item is an answer, not an exception); if it raises anyway, the run is undone and every item is
applied alone, so one item's failure never spoils the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, NamedTuple

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

Work = Callable[[Connection], Any]
BatchWork = Callable[[Connection, list[Any]], list[Any]]


class LoopFuture:
    """An asyncio future the writer thread settles: all of a group's answers for one event
    loop are handed to it in one callback (one wake-up of the loop, not one per request)."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()

    def set_running_or_notify_cancel(self) -> bool:
        return not self.future.cancelled()  # a cancelled request's work is not started

    def done(self) -> bool:
        return False  # settled on its loop, which skips a cancelled one


class _Job(NamedTuple):
    work: Work | None
    future: Future[Any] | LoopFuture
    key: object = None
    item: Any = None
    apply: BatchWork | None = None


class GroupCommitter:
    def __init__(self, engine: Engine, lock: threading.Lock, max_group: int = 128) -> None:
        self.engine = engine
        self.lock = lock
        self.max_group = max_group
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, work: Work) -> Future[Any]:
        self._ensure_started()
        future: Future[Any] = Future()
        self._jobs.put(_Job(work, future))
        return future

    def submit_item(self, key: object, item: Any, apply: BatchWork) -> Future[Any]:
        """Queue one item; ``apply(conn, items)`` may receive it with its neighbours of the same
        key and must return one result per item, in order."""
        self._ensure_started()
        future: Future[Any] = Future()
        self._jobs.put(_Job(None, future, key, item, apply))
        return future

    def submit_item_async(self, key: object, item: Any, apply: BatchWork) -> asyncio.Future[Any]:
        """``submit_item`` for a caller on the running event loop: await the returned future."""
        self._ensure_started()
        future = LoopFuture(asyncio.get_running_loop())
        self._jobs.put(_Job(None, future, key, item, apply))
        return future.future

    def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="loyalty-writer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            group = [first]
            while len(group) < self.max_group:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._commit(group)
                    return
                group.append(job)
            self._commit(group)

    def _commit(self, group: list[_Job]) -> None:
        outcomes: list[Outcome] = []
        try:
            with self.lock, self.engine.begin() as conn:
                cursor = conn.connection.cursor()
                start = 0
                while start < len(group):
                    job = group[start]
                    end = start + 1
                    if job.apply is not None:
                        while (
                            end < len(group)
                            and group[end].apply is not None
                            and group[end].key == job.key
                        ):
                            end += 1
                    live = [j for j in group[start:end] if j.future.set_running_or_notify_cancel()]
                    start = end
                    if not live:
                        continue
                    if job.apply is None:
                        outcomes.append(_attempt(cursor, conn, live[0]))
                    else:
                        outcomes += _apply_run(cursor, conn, live)
        except BaseException as error:  # the COMMIT itself failed: nobody's work is durable
            _settle([(job.future, False, error) for job in group if not job.future.done()])
            return
        _settle(outcomes)


Outcome = tuple[Future[Any] | LoopFuture, bool, Any]


def _settle(outcomes: list[Outcome]) -> None:
    """Answer every job: thread futures here, loop futures in one callback per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for future, ok, value in outcomes:
        if isinstance(future, LoopFuture):
            by_loop.setdefault(future.loop, []).append((future.future, ok, value))
        elif ok:
            future.set_result(value)
        else:
            future.set_exception(value)
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for these
            loop.call_soon_threadsafe(_settle_on_loop, settled)


def _settle_on_loop(settled: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in settled:
        if future.done():  # cancelled meanwhile
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _attempt(cursor: Any, conn: Connection, job: _Job) -> Outcome:
    """One job in its own savepoint: a failing one undoes only itself."""
    cursor.execute("SAVEPOINT group_job")
    try:
        if job.work is not None:
            outcome = (job.future, True, job.work(conn))
        else:
            assert job.apply is not None
            (value,) = job.apply(conn, [job.item])
            outcome = (job.future, True, value)
    except BaseException as error:  # the caller gets it; the group goes on
        cursor.execute("ROLLBACK TO SAVEPOINT group_job")
        outcome = (job.future, False, error)
    cursor.execute("RELEASE SAVEPOINT group_job")
    return outcome


def _apply_run(cursor: Any, conn: Connection, run: list[_Job]) -> list[Outcome]:
    """A run of items of one key, applied together; item by item if that raises."""
    if len(run) == 1:
        return [_attempt(cursor, conn, run[0])]
    apply = run[0].apply
    assert apply is not None
    cursor.execute("SAVEPOINT group_run")
    try:
        values = apply(conn, [job.item for job in run])
        if len(values) != len(run):
            raise RuntimeError(f"apply answered {len(values)} of {len(run)} items")
    except BaseException:
        cursor.execute("ROLLBACK TO SAVEPOINT group_run")
        cursor.execute("RELEASE SAVEPOINT group_run")
        return [_attempt(cursor, conn, job) for job in run]
    cursor.execute("RELEASE SAVEPOINT group_run")
    return [(job.future, True, value) for job, value in zip(run, values, strict=True)]
