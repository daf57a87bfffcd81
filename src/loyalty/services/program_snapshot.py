"""The columnar read model of programme analytics: per tenant, the narrow facts the figures
need (orders, members, point flows, guest orders) as Polars frames in memory, kept up to date
incrementally and saved as Parquet so a restarted process does not read the history again.

How it stays exact (docs/analytics.md, "Read model and freshness"):

- Every request catches up before computing: it reads the rows added since the last refresh
  (``id`` greater than the part's watermark, an index range scan) and re-reads the orders and
  guest orders changed since (refunds, cancellations, claims: ``analytics_changes``, written in
  the same transaction as the change). So the figures always equal the ones computed from the
  database in the same read transaction (the tests compare the two).
- Ids are handed out before commit, so on PostgreSQL a row may become visible after a row with
  a larger id. A watermark therefore only passes an id once it was seen at least ``grace``
  seconds ago; rows above it (the last ``grace`` seconds) are read again on every refresh.
  SQLite has one writer at a time, so its grace is 0.
- The saved copy (``directory/tenant-<id>/``) is written as a new generation and then named in
  ``current.json`` with an atomic rename; a copy made for another database, time zone or
  currency, or in an older format, is ignored and rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from loyalty.analytics import kpis
from loyalty.domain.money import minor_units
from loyalty.services.context import TenantContext
from loyalty.services.events import order_from_json
from loyalty.store import program_analytics as store
from loyalty.store.uow import Database

GROUP = pl.Enum(["member", "non_member"])
FORMAT = 1  # of the saved copy; bump when a stored column changes
SAVE_AFTER_ROWS = 100_000  # rows taken in since the last save that make a request save
SAVE_EVERY_SECONDS = 3_600.0  # the scheduler saves smaller changes this often
POSTGRES_GRACE_SECONDS = 60.0
_KEEP_OLD_GENERATIONS_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class Facts:
    """The tenant's analytics facts, one frame per source, each in id order:

    - ``orders``: ``id``, ``member_id``, ``paid_at`` (epoch seconds), ``net`` (minor units after
      refunds; 0 once cancelled), ``group`` (member/non_member order), ``day`` (local);
    - ``members``: ``member_id``, ``joined_at`` (epoch seconds), ``joined_day``;
    - ``ledger``: ``id``, ``kind``, ``points``, ``occurred_at``, ``day`` (point flows only);
    - ``guests``: ``id``, ``email``, ``paid_at``, ``net`` (0 once claimed), ``day``.
    """

    orders: pl.DataFrame
    members: pl.DataFrame
    ledger: pl.DataFrame
    guests: pl.DataFrame


# --- facts from rows (shared by the full read and the read model) --------------------------


def member_facts(rows: pl.DataFrame, timezone: str) -> pl.DataFrame:
    return rows.with_columns(kpis.local_day("joined_at", timezone).alias("joined_day"))


def order_facts(rows: pl.DataFrame, members: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """Order rows (store.order_rows) with their group and local day. A member order earned
    points or was paid at or after the member's enrolment; ``members`` holds every member the
    rows belong to."""
    member_order = (pl.col("earned") == 1) | (pl.col("paid_at") >= pl.col("joined_at"))
    return rows.join(
        members.select("member_id", "joined_at"), on="member_id", how="left", maintain_order="left"
    ).select(
        "id",
        "member_id",
        "paid_at",
        "net",
        pl.when(member_order)
        .then(pl.lit("member", GROUP))
        .otherwise(pl.lit("non_member", GROUP))
        .alias("group"),
        kpis.local_day("paid_at", timezone).alias("day"),
    )


def ledger_facts(rows: pl.DataFrame, timezone: str) -> pl.DataFrame:
    return rows.with_columns(kpis.local_day("occurred_at", timezone).alias("day"))


def guest_facts(
    rows: list[tuple[int, str | None, Any, bool]], scale: int, timezone: str
) -> pl.DataFrame:
    """Guest order rows (store.guest_rows), valued at the order's charged total."""
    values = []
    for guest_pk, email, event, claimed in rows:
        order = order_from_json(event["order"])
        net = int((order.charged_total * scale).to_integral_value(ROUND_HALF_UP))
        paid_at = int(datetime.fromisoformat(event["occurred_at"]).timestamp())
        values.append((guest_pk, email, paid_at, 0 if claimed else net))
    schema = {"id": pl.Int64, "email": pl.String, "paid_at": pl.Int64, "net": pl.Int64}
    frame = pl.DataFrame(values, schema=schema, orient="row")
    return frame.with_columns(kpis.local_day("paid_at", timezone).alias("day"))


def read_members(conn: Connection, tenant_id: int, timezone: str) -> pl.DataFrame:
    return member_facts(store.member_rows(conn, tenant_id), timezone)


def read_orders(
    conn: Connection, tenant_id: int, scale: int, members: pl.DataFrame, timezone: str
) -> pl.DataFrame:
    return order_facts(store.order_rows(conn, tenant_id, scale), members, timezone)


def read_ledger(conn: Connection, tenant_id: int, timezone: str) -> pl.DataFrame:
    return ledger_facts(store.ledger_rows(conn, tenant_id), timezone)


def read_guests(conn: Connection, tenant_id: int, scale: int, timezone: str) -> pl.DataFrame:
    return guest_facts(store.guest_rows(conn, tenant_id), scale, timezone)


# --- the read model ---------------------------------------------------------------------------


class Watermark:
    """How far a part is final: rows with ids up to ``stable`` never need reading again.
    ``stable`` moves to the largest id seen at least ``grace`` seconds ago."""

    def __init__(self, stable: int = 0) -> None:
        self.stable = stable
        self._seen: list[tuple[float, int]] = []

    def settle(self, seen: int, now: float, grace: float) -> None:
        self._seen.append((now, max(seen, self.stable)))
        old = [mark for mark in self._seen if mark[0] <= now - grace]
        if old:
            self.stable = max(self.stable, old[-1][1])
        self._seen = [mark for mark in self._seen if mark[0] > now - grace]


class Snapshot:
    """One tenant's facts and watermarks. ``refresh`` and ``save`` hold ``lock``; the frames
    handed out are never changed afterwards (a refresh makes new ones)."""

    PARTS = ("orders", "members", "ledger", "guests")

    def __init__(self, tenant_id: int, timezone: str, scale: int) -> None:
        self.tenant_id = tenant_id
        self.timezone = timezone
        self.scale = scale
        self.lock = threading.Lock()
        self.facts = Facts(
            _empty(_ORDER_SCHEMA), _empty(_MEMBER_SCHEMA), _empty(_LEDGER_SCHEMA), _empty(_GUEST)
        )
        self.marks = {name: Watermark() for name in (*self.PARTS, "changes")}
        self.unsaved = 0  # rows taken in since the last save (or since loading)
        self.saved_at: float | None = None

    def refresh(self, conn: Connection, now: float, grace: float) -> int:
        """Catch up with the database; the number of rows read."""
        t, tz, marks, facts = self.tenant_id, self.timezone, self.marks, self.facts
        changed = store.changes(conn, t, after=marks["changes"].stable)
        order_ids = [r for _, source, r in changed if source == "order"]
        guest_ids = [r for _, source, r in changed if source == "guest_order"]
        # Orders before members: a member is committed with (or before) their first order.
        new_orders = store.order_rows(conn, t, self.scale, after=marks["orders"].stable)
        new_members = store.member_rows(conn, t, after=marks["members"].stable)
        members = _append(
            facts.members, "member_id", marks["members"], member_facts(new_members, tz)
        )
        orders = _append(facts.orders, "id", marks["orders"], order_facts(new_orders, members, tz))
        old_orders = [pk for pk in order_ids if pk <= marks["orders"].stable]
        if old_orders:
            rows = store.order_rows(conn, t, self.scale, ids=old_orders)
            orders = _patch(orders, order_facts(rows, members, tz))
        new_ledger = store.ledger_rows(conn, t, after=marks["ledger"].stable)
        ledger = _append(facts.ledger, "id", marks["ledger"], ledger_facts(new_ledger, tz))
        new_guests = store.guest_rows(conn, t, after=marks["guests"].stable)
        guests = _append(
            facts.guests, "id", marks["guests"], guest_facts(new_guests, self.scale, tz)
        )
        old_guests = [pk for pk in guest_ids if pk <= marks["guests"].stable]
        if old_guests:
            rows_of_guests = store.guest_rows(conn, t, ids=old_guests)
            guests = _patch(guests, guest_facts(rows_of_guests, self.scale, tz))
        self.facts = Facts(orders, members, ledger, guests)
        for name, frame, key in (
            ("orders", orders, "id"),
            ("members", members, "member_id"),
            ("ledger", ledger, "id"),
            ("guests", guests, "id"),
        ):
            marks[name].settle(_last_id(frame, key), now, grace)
        marks["changes"].settle(changed[-1][0] if changed else 0, now, grace)
        read = new_orders.height + new_members.height + new_ledger.height + len(new_guests)
        self.unsaved += read
        return read

    # --- the saved copy

    def save(self, directory: Path, database: str, now: float) -> None:
        folder = directory / f"tenant-{self.tenant_id}"
        generation = uuid.uuid4().hex
        (folder / generation).mkdir(parents=True)
        for name in self.PARTS:
            getattr(self.facts, name).write_parquet(folder / generation / f"{name}.parquet")
        state = {
            "format": FORMAT,
            "database": database,
            "tenant_id": self.tenant_id,
            "timezone": self.timezone,
            "scale": self.scale,
            "generation": generation,
            "stable": {name: mark.stable for name, mark in self.marks.items()},
        }
        pending = folder / f"current.{generation}.json"
        pending.write_text(json.dumps(state))
        os.replace(pending, folder / "current.json")
        self.unsaved = 0
        self.saved_at = now
        for old in folder.iterdir():  # older generations, once no reader can still be on them
            stale = time.time() - old.stat().st_mtime > _KEEP_OLD_GENERATIONS_SECONDS
            if old.is_dir() and old.name != generation and stale:
                shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(
        cls, directory: Path, database: str, tenant_id: int, timezone: str, scale: int
    ) -> Snapshot | None:
        """The saved copy, if there is one made for this database, tenant, zone and currency."""
        folder = directory / f"tenant-{tenant_id}"
        try:
            state = json.loads((folder / "current.json").read_text())
            wanted = (FORMAT, database, tenant_id, timezone, scale)
            if (
                state["format"],
                state["database"],
                state["tenant_id"],
                state["timezone"],
                state["scale"],
            ) != wanted:
                return None
            frames = {
                name: pl.read_parquet(folder / state["generation"] / f"{name}.parquet").cast(
                    schema  # type: ignore[arg-type]
                )
                for name, schema in zip(cls.PARTS, _SCHEMAS, strict=True)
            }
        except (OSError, ValueError, KeyError, pl.exceptions.PolarsError):
            return None
        snapshot = cls(tenant_id, timezone, scale)
        snapshot.facts = Facts(**frames)
        for name, stable in state["stable"].items():
            snapshot.marks[name] = Watermark(int(stable))
        return snapshot


_ORDER_SCHEMA = {
    "id": pl.Int64,
    "member_id": pl.Int64,
    "paid_at": pl.Int64,
    "net": pl.Int64,
    "group": GROUP,
    "day": pl.Date,
}
_MEMBER_SCHEMA = {"member_id": pl.Int64, "joined_at": pl.Int64, "joined_day": pl.Date}
_LEDGER_SCHEMA = {
    "id": pl.Int64,
    "kind": store.FLOW_KIND,
    "points": pl.Int64,
    "occurred_at": pl.Int64,
    "day": pl.Date,
}
_GUEST = {"id": pl.Int64, "email": pl.String, "paid_at": pl.Int64, "net": pl.Int64, "day": pl.Date}
_SCHEMAS = (_ORDER_SCHEMA, _MEMBER_SCHEMA, _LEDGER_SCHEMA, _GUEST)


def _empty(schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def _last_id(frame: pl.DataFrame, key: str) -> int:
    return int(frame[key][-1]) if frame.height else 0


def _append(frame: pl.DataFrame, key: str, mark: Watermark, rows: pl.DataFrame) -> pl.DataFrame:
    """The final rows of ``frame`` followed by ``rows`` (everything after the watermark)."""
    keep = frame[key].search_sorted(mark.stable, side="right") if frame.height else 0
    joined = pl.concat([frame.slice(0, int(keep)), rows.select(frame.columns)], how="vertical")
    if joined.n_chunks() > 32:  # appends add chunks; scans slow down when there are many
        joined = joined.rechunk()
    return joined.set_sorted(key)


def _patch(frame: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the rows of the same ``id`` replaced by ``rows`` (in place of copies)."""
    ids = frame["id"]
    positions = ids.search_sorted(rows["id"], side="left")
    inside = positions < frame.height
    positions, rows = positions.filter(inside), rows.filter(inside)
    found = ids.gather(positions) == rows["id"]
    positions, rows = positions.filter(found), rows.filter(found)
    if not rows.height:
        return frame
    columns = [frame[c].clone().scatter(positions, rows[c]) for c in frame.columns if c != "id"]
    return frame.with_columns(columns).set_sorted("id")


# --- the snapshots of a database --------------------------------------------------------------


class Snapshots:
    """The read models of one ``Database`` (one per tenant), and where they are saved."""

    def __init__(self, directory: Path | None, grace: float, database: str) -> None:
        self.directory = directory
        self.grace = grace
        self.database = database
        self.tenants: dict[int, Snapshot] = {}
        self.lock = threading.Lock()

    def of(self, ctx: TenantContext) -> tuple[Snapshot, bool]:
        """The tenant's snapshot, loaded or new (then True: not saved anywhere yet)."""
        timezone, scale = ctx.timezone.key, 10 ** minor_units(ctx.program.currency)
        with self.lock:
            found = self.tenants.get(ctx.tenant_id)
            if found is not None and (found.timezone, found.scale) == (timezone, scale):
                return found, False
            loaded = None
            if self.directory is not None:
                loaded = Snapshot.load(
                    self.directory, self.database, ctx.tenant_id, timezone, scale
                )
            snapshot = loaded or Snapshot(ctx.tenant_id, timezone, scale)
            self.tenants[ctx.tenant_id] = snapshot
            return snapshot, loaded is None

    def refresh(self, snapshot: Snapshot, conn: Connection, *, fresh: bool = False) -> Facts:
        with snapshot.lock:
            now = time.monotonic()
            snapshot.refresh(conn, now, self.grace)
            if self.directory is not None and (fresh or snapshot.unsaved >= SAVE_AFTER_ROWS):
                snapshot.save(self.directory, self.database, now)
            return snapshot.facts


_DATABASES: weakref.WeakKeyDictionary[Database, Snapshots] = weakref.WeakKeyDictionary()
_DATABASES_LOCK = threading.Lock()


def configure(db: Database, directory: Path | None, grace: float | None = None) -> Snapshots:
    """Where ``db``'s read models are saved (None: memory only) and the commit grace in
    seconds (default: 0 on SQLite, ``POSTGRES_GRACE_SECONDS`` on PostgreSQL)."""
    if grace is None:
        grace = 0.0 if db.sqlite else POSTGRES_GRACE_SECONDS
    name = db.engine.url.render_as_string(hide_password=True)
    snapshots = Snapshots(directory, grace, name)
    with _DATABASES_LOCK:
        _DATABASES[db] = snapshots
    return snapshots


def snapshots_of(db: Database) -> Snapshots:
    with _DATABASES_LOCK:
        found = _DATABASES.get(db)
    return found if found is not None else configure(db, None)


def current(db: Database, conn: Connection, ctx: TenantContext) -> Facts:
    """The tenant's facts, caught up with what ``conn`` sees (the request's read)."""
    snapshots = snapshots_of(db)
    snapshot, fresh = snapshots.of(ctx)
    return snapshots.refresh(snapshot, conn, fresh=fresh)


def refresh_loaded(db: Database) -> int:
    """Catch up every read model this process holds and save those with unsaved rows older
    than ``SAVE_EVERY_SECONDS`` (the scheduler's job); the number of tenants saved."""
    snapshots = snapshots_of(db)
    with snapshots.lock:
        loaded = list(snapshots.tenants.values())
    saved = 0
    for snapshot in loaded:
        with db.read(snapshot.tenant_id) as uow, snapshot.lock:
            now = time.monotonic()
            snapshot.refresh(uow.conn, now, snapshots.grace)
            due = snapshot.saved_at is None or now - snapshot.saved_at >= SAVE_EVERY_SECONDS
            if snapshots.directory is not None and snapshot.unsaved and due:
                snapshot.save(snapshots.directory, snapshots.database, now)
                saved += 1
    return saved


def build(db: Database, ctx: TenantContext) -> Facts:
    """Load or build the tenant's read model, catch it up and save it (``loyalty analytics
    snapshot``: after an import, or before the first request)."""
    snapshots = snapshots_of(db)
    snapshot, _ = snapshots.of(ctx)
    with db.read(ctx.tenant_id) as uow:
        return snapshots.refresh(snapshot, uow.conn, fresh=True)
