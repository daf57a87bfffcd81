"""The webhook worker: fan out the outbox, deliver due webhooks, record each attempt.

Several workers may run (PostgreSQL: rows are claimed with FOR UPDATE SKIP LOCKED and leased);
a worker killed mid-delivery loses nothing: the lease runs out and another attempt is made, so a
receiver may see an event twice and de-duplicates it by its id.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx

from loyalty.integrations.webhooks_out import post
from loyalty.services import webhooks
from loyalty.services.context import Clock
from loyalty.store.uow import Database

log = logging.getLogger("loyalty.webhooks")


class WebhookWorker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        interval: float = 1.0,
        lease: timedelta = timedelta(seconds=60),
        timeout: float = 10.0,
        concurrency: int = 8,
    ) -> None:
        self.db = db
        self.clock = clock
        self.interval = interval
        self.lease = lease
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)
        self._pool = ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="loyalty-webhook"
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Dispatch and deliver what is due now; returns the number of attempts made."""
        webhooks.dispatch(self.db, self.clock.now())
        batch = webhooks.claim(self.db, self.clock.now(), self.lease)
        list(self._pool.map(self._deliver, batch))
        return len(batch)

    def _deliver(self, delivery: webhooks.Delivery) -> None:
        now = self.clock.now()
        attempt = post(
            self._client, delivery.url, delivery.secret, delivery.body, int(now.timestamp())
        )
        status = webhooks.record_result(
            self.db, delivery, attempt.status_code, attempt.error, self.clock.now()
        )
        if status != "delivered":
            log.info(
                "webhook %s to %s: %s (%s)",
                delivery.body["id"],
                delivery.url,
                status,
                attempt.error,
            )

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                if self.run_once():
                    continue  # more may be due: go again without waiting
            except Exception:  # keep delivering; the next round retries
                log.exception("webhook round failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.run_forever, name="loyalty-webhooks", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._pool.shutdown(wait=True)
        self._client.close()
