"""The in-process scheduler that ``loyalty serve`` runs: due jobs every N seconds."""

from __future__ import annotations

import logging
import threading

from loyalty.services import profiles, program_snapshot, survey_invitations
from loyalty.services.context import Clock
from loyalty.services.jobs import run_due_jobs
from loyalty.store.uow import Database

log = logging.getLogger("loyalty.jobs")


class Scheduler:
    def __init__(self, db: Database, clock: Clock, interval: float) -> None:
        self.db = db
        self.clock = clock
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loyalty-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report = run_due_jobs(self.db, self.clock.now())
                if any(report.to_dict().values()):
                    log.info("jobs: %s", report.to_dict())
            except Exception:  # keep the scheduler alive; the next run catches up
                log.exception("scheduled jobs failed")
            try:
                if refreshed := profiles.refresh_daily(self.db, self.clock.now()):
                    log.info("profiles refreshed for %d tenants", refreshed)
            except Exception:
                log.exception("profile refresh failed")
            try:
                if saved := program_snapshot.refresh_loaded(self.db):
                    log.info("analytics read model saved for %d tenants", saved)
            except Exception:
                log.exception("analytics read model refresh failed")
            try:
                if invited := survey_invitations.invite_due(self.db, self.clock.now()):
                    log.info("survey invitations: %d", invited)
            except Exception:
                log.exception("survey invitations failed")
            self._stop.wait(self.interval)
