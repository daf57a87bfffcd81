"""Group commit for SQLite: concurrent writes share one durable COMMIT.

SQLite has a single writer and a durable commit costs an fsync. A writer thread takes the
units of work that requests queue up, runs each in its own SAVEPOINT (a failing one undoes only
itself), commits the whole group once, and only then answers every request. Nothing is
acknowledged before it is on disk, and one fsync serves many requests.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

Work = Callable[[Connection], Any]
_Job = tuple[Work, "Future[Any]"]


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
        self._jobs.put((work, future))
        return future

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
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        try:
            with self.lock, self.engine.begin() as conn:
                cursor = conn.connection.cursor()
                for work, future in group:
                    if not future.set_running_or_notify_cancel():
                        continue
                    cursor.execute("SAVEPOINT group_job")
                    try:
                        outcomes.append((future, True, work(conn)))
                    except BaseException as error:  # the caller gets it; the group goes on
                        cursor.execute("ROLLBACK TO SAVEPOINT group_job")
                        outcomes.append((future, False, error))
                    cursor.execute("RELEASE SAVEPOINT group_job")
        except BaseException as error:  # the COMMIT itself failed: nobody's work is durable
            for _, future in group:
                if not future.done():
                    future.set_exception(error)
            return
        for future, ok, value in outcomes:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
