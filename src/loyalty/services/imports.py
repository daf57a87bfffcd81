"""Loading order and customer history from files into the ledger (or for analytics only).

Rows are streamed; one order's lines must be on consecutive rows. Each order is read into a
``history.HistoryOrder`` (the rows it will write, computed while parsing) and written by the
history writer in chunks, standing for an ``order.paid`` event with the id
``import:<order id>``: re-running the same file changes nothing (the orders table knows what
is recorded) and a bad row only loses its own order, with its line number and reason in the
report. The command line parses in a second process (``parse_apart``), so parsing and writing
use two cores. An order id that comes back later in the same file (after other orders) is a
bad row too, ``duplicate order_id '<id>', first seen on line N``: only its first appearance
counts. The ids met in a run are kept in memory up to ``MEMORY_IDS`` (some 22 MB), then in a
temporary SQLite file, so memory stays bounded for a file of any size (the file grows by some
tens of bytes per order and is deleted when the import ends); a re-run starts afresh, so its
orders are reported as already imported, not as duplicates. Historical dates are kept: points
earned two years ago were available long ago and expire on the dates the programme gives them
(the next jobs run does it).
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import re
import sqlite3
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from queue import Empty
from typing import Any, NamedTuple

from loyalty.domain.errors import DomainError, NotFound, ValidationFailed
from loyalty.domain.events import CustomerChanged, InboundEvent, MemberRef
from loyalty.domain.orders import OrderLine, PaidOrder
from loyalty.services import bulk, events, history
from loyalty.services.context import Clock, TenantContext
from loyalty.services.history import HistoryOrder
from loyalty.store.imports import ImportRepository
from loyalty.store.uow import Database, UnitOfWork

ORDER_FIELDS = (
    "order_id",
    "customer_id",
    "email",
    "ordered_at",
    "currency",
    "sku",
    "product_id",
    "category",
    "quantity",
    "unit_price",
    "discount",
    "shipping",
    "tax",
)
CUSTOMER_FIELDS = ("customer_id", "email", "phone", "first_name", "last_name", "birthday", "locale")
CHUNK = 2_000
QUEUED = 4  # parsed chunks waiting for the writer, at most (parse_apart)
IN_FLIGHT = 2  # chunks handed to the database writer and not yet answered, at most
MEMORY_IDS = 250_000  # order ids kept in memory per run before they move to a temporary file
_ZERO = Decimal("0")
_FLOAT_ID = re.compile(r"^(\d+)\.0+$")


@dataclass
class ImportReport:
    rows: int = 0
    orders: int = 0
    imported: int = 0
    already_there: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "orders": self.orders,
            "imported": self.imported,
            "already_there": self.already_there,
            "errors": [{"line": line, "reason": reason} for line, reason in self.errors[:1000]],
            "error_count": len(self.errors),
            "seconds": round(self.seconds, 3),
        }


class _BadRow(Exception):
    pass


def _value(row: Mapping[str, Any], mapping: Mapping[str, str], name: str) -> str | None:
    raw = row.get(mapping.get(name, name))
    if raw is None:
        return None
    text = (raw if type(raw) is str else str(raw)).strip()
    return text or None


def _columns(mapping: Mapping[str, str]) -> dict[str, str]:
    """Our field -> the file's column, for every order field (unmapped: the same name)."""
    return {name: mapping.get(name, name) for name in ORDER_FIELDS}


def _identifier(text: str | None) -> str | None:
    """Ids that spreadsheets wrote as floats ("17850.0") are read as the integers they were."""
    if text is None:
        return None
    match = _FLOAT_ID.match(text)
    return match.group(1) if match else text


def _decimal(text: str | None, name: str, default: str | None = None) -> Decimal:
    if text is None:
        if default is None:
            raise _BadRow(f"{name} is missing")
        text = default
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _BadRow(f"{name} '{text}' is not a number") from None
    if not value.is_finite():
        raise _BadRow(f"{name} '{text}' is not a number")
    return value


def _moment(text: str | None, ctx: TenantContext) -> datetime:
    if text is None:
        raise _BadRow("ordered_at is missing")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _BadRow(f"ordered_at '{text}' is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ctx.timezone)


# the columns read from every row of an order, and from its first row only
_LINE_FIELDS = ("quantity", "unit_price", "sku", "product_id", "category", "discount")
_FIRST_FIELDS = ("customer_id", "email", "currency", "shipping", "tax", "ordered_at")
_KEEP = 20_000  # entries per cache of the parser, at most

_LineTexts = tuple[str | None, ...]  # a row's _LINE_FIELDS, as ``_value`` reads them


def _texts(row: Mapping[str, Any], columns: tuple[str, ...]) -> _LineTexts:
    """``_value`` of each of ``columns`` (the file's names), in one pass."""
    out: list[str | None] = []
    for column in columns:
        raw = row.get(column)
        if raw is None:
            out.append(None)
            continue
        text = (raw if type(raw) is str else str(raw)).strip()
        out.append(text or None)
    return tuple(out)


@dataclass
class _OpenOrder:
    order_id: str
    first_line: int
    first: Mapping[str, Any]
    lines: list[OrderLine] = field(default_factory=list)
    texts: list[_LineTexts] = field(default_factory=list)
    error: tuple[int, str] | None = None


def _line(texts: _LineTexts) -> OrderLine:
    quantity_text, price_text, sku, product_id, category, discount = texts
    quantity_text = quantity_text or "1"
    try:
        if quantity_text.isascii() and quantity_text.isdigit():
            quantity = int(quantity_text)
        else:
            value = Decimal(quantity_text)
            if not value.is_finite() or value != value.to_integral_value():
                raise _BadRow(f"quantity '{quantity_text}' is not a whole number")
            quantity = int(value)
    except InvalidOperation:
        raise _BadRow(f"quantity '{quantity_text}' is not a number") from None
    if quantity <= 0:
        raise _BadRow(f"quantity {quantity} is not positive (returns are refunds, not orders)")
    unit_price = _decimal(price_text, "unit_price")
    if unit_price < 0:
        raise _BadRow(f"unit_price {unit_price} is negative")
    sku = sku or product_id
    if sku is None:
        raise _BadRow("sku is missing")
    try:
        return OrderLine(
            sku=sku,
            quantity=quantity,
            unit_price=unit_price,
            discount=_ZERO if discount is None else _decimal(discount, "discount"),
            product_id=product_id,
            category=category,
        )
    except DomainError as error:
        raise _BadRow(error.detail) from None


class _Reader:
    """Turns rows into orders for one run. What a row or an order gives depends only on its
    texts, and history files repeat them (the same line, the same one-line order, the same
    order time), so each distinct text is worked out once and remembered (bounded caches:
    the reports and the rows written are the same as without them)."""

    def __init__(
        self, mapping: Mapping[str, str], ctx: TenantContext, prepare: history.Preparer
    ) -> None:
        columns = _columns(mapping)
        self.line_columns = tuple(columns[name] for name in _LINE_FIELDS)
        self.first_columns = tuple(columns[name] for name in _FIRST_FIELDS)
        self.ctx, self.prepare = ctx, prepare
        # line texts -> the line, or why the row is bad
        self.lines: dict[_LineTexts, OrderLine | str] = {}
        # a one-line order's texts -> ``Preparer.values``, or why the order is bad
        self.values: dict[tuple[Any, ...], tuple[Any, ...] | str] = {}
        # ordered_at as written -> (the time it means, ``Preparer.dates``), or why it is bad
        self.times: dict[str | None, tuple[datetime, tuple[Any, ...]] | str] = {}

    def add_line(self, order: _OpenOrder, row: Mapping[str, Any], number: int) -> None:
        texts = _texts(row, self.line_columns)
        found = self.lines.get(texts)
        if found is None:
            try:
                found = _line(texts)
            except _BadRow as error:
                found = str(error)
            if len(self.lines) >= _KEEP:
                self.lines.clear()
            self.lines[texts] = found
        if isinstance(found, str):
            order.error = (number, found)
            return
        order.lines.append(found)
        order.texts.append(texts)

    def record(self, order: _OpenOrder) -> HistoryOrder:
        """The order's rows; ``_BadRow`` or ``DomainError`` says why it cannot be imported
        (checked in the order the fields were always checked: customer, order, time)."""
        customer, email, currency, shipping, tax, when = _texts(order.first, self.first_columns)
        customer = _identifier(customer)
        if customer is None:
            if email is None:
                raise _BadRow("no customer id or email (a guest order): nothing to attach it to")
            customer = "email:" + email.lower()
        values: tuple[Any, ...] | str | None
        if len(order.texts) == 1:
            key = (order.texts[0], currency, shipping, tax)
            values = self.values.get(key)
            if values is None:
                values = self._values(order, currency, shipping, tax)
                if len(self.values) >= _KEEP:
                    self.values.clear()
                self.values[key] = values
        else:
            values = self._values(order, currency, shipping, tax)
        if isinstance(values, str):
            raise _BadRow(values)
        moment = self.times.get(when)
        if moment is None:
            try:
                occurred_at = _moment(when, self.ctx)
                moment = (occurred_at, self.prepare.dates(occurred_at))
            except _BadRow as error:
                moment = str(error)
            if len(self.times) >= _KEEP:
                self.times.clear()
            self.times[when] = moment
        if isinstance(moment, str):
            raise _BadRow(moment)
        occurred_at, dates = moment
        return self.prepare.build(
            order.first_line, order.order_id, customer, email, occurred_at, dates, values
        )

    def _values(
        self, order: _OpenOrder, currency: str | None, shipping: str | None, tax: str | None
    ) -> tuple[Any, ...] | str:
        try:
            paid = PaidOrder(
                order_id=order.order_id,
                currency=currency or self.ctx.program.currency,
                lines=tuple(order.lines),
                shipping=_decimal(shipping, "shipping", "0"),
                tax=_decimal(tax, "tax", "0"),
            )
        except _BadRow as error:
            return str(error)
        except DomainError as error:
            return error.detail
        return self.prepare.values(paid)


class OrderGroup(NamedTuple):
    """One order's consecutive rows: its event, or why it cannot be imported."""

    line: int  # the order's first row
    order_id: str
    record: HistoryOrder | None
    error: tuple[int, str] | None = None


def order_groups(
    rows: Iterable[tuple[int, Mapping[str, Any] | Exception]],
    mapping: Mapping[str, str],
    ctx: TenantContext,
    report: ImportReport,
    *,
    earn: bool,
    now: datetime,
    sqlite: bool,
) -> Iterator[OrderGroup]:
    """Group consecutive rows of one order; rows that belong to no order go into the report.
    ``now`` and ``sqlite`` (the database's kind) shape the rows the orders will write."""
    current: _OpenOrder | None = None
    order_column = _columns(mapping)["order_id"]
    reader = _Reader(mapping, ctx, history.Preparer(ctx, now, earn=earn, sqlite=sqlite))

    def close(order: _OpenOrder) -> OrderGroup:
        if order.error is not None:
            return OrderGroup(order.first_line, order.order_id, None, order.error)
        try:
            record = reader.record(order)
        except (_BadRow, DomainError) as error:
            reason = error.detail if isinstance(error, DomainError) else str(error)
            return OrderGroup(order.first_line, order.order_id, None, (order.first_line, reason))
        return OrderGroup(order.first_line, order.order_id, record)

    for number, row in rows:
        report.rows += 1
        if isinstance(row, Exception):
            report.errors.append((number, str(row)))
            continue
        raw = row.get(order_column)
        order_id = None if raw is None else (raw if type(raw) is str else str(raw)).strip()
        if not order_id:
            report.errors.append((number, "order_id is missing"))
            continue
        if current is None or current.order_id != order_id:
            if current is not None:
                yield close(current)
            current = _OpenOrder(order_id, number, row)
        if current.error is None:
            reader.add_line(current, row, number)
    if current is not None:
        yield close(current)


class SeenOrders:
    """The order ids met so far in one import run, with the line each was first seen on.

    The first ``memory_ids`` ids are kept in a dict (about 90 bytes each: some 22 MB at the
    default); past that they all move to a temporary SQLite file with a 64 MB page cache, so
    memory stays bounded however many orders the file has, and the file (some tens of bytes
    per id) is deleted by ``close``. Asked a chunk at a time: a few statements per chunk.
    """

    _SLICE = 500  # ids per IN (...) query, well under SQLite's parameter limit

    def __init__(self, memory_ids: int | None = None) -> None:
        self.memory_ids = MEMORY_IDS if memory_ids is None else memory_ids
        self._memory: dict[str, int] = {}
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._db: sqlite3.Connection | None = None

    @property
    def on_disk(self) -> bool:
        return self._db is not None

    def first_lines(self, groups: list[OrderGroup]) -> list[int | None]:
        """For each group, in file order: the line its order id was first seen on when that was
        an earlier group (a duplicate), else None. The ids are remembered for later chunks."""
        first_here: dict[str, int] = {}
        for group in groups:
            first_here.setdefault(group.order_id, group.line)
        earlier = self._lookup(list(first_here))
        self._remember([(i, line) for i, line in first_here.items() if i not in earlier])
        found: list[int | None] = []
        for group in groups:
            first = earlier.get(group.order_id, first_here[group.order_id])
            found.append(first if first != group.line else None)
        return found

    def _lookup(self, ids: list[str]) -> dict[str, int]:
        if self._db is None:
            memory = self._memory
            return {order_id: memory[order_id] for order_id in ids if order_id in memory}
        earlier: dict[str, int] = {}
        for start in range(0, len(ids), self._SLICE):
            part = ids[start : start + self._SLICE]
            marks = ",".join("?" * len(part))
            query = f"SELECT order_id, line FROM seen WHERE order_id IN ({marks})"
            earlier.update(self._db.execute(query, part).fetchall())
        return earlier

    def _remember(self, fresh: list[tuple[str, int]]) -> None:
        if self._db is None:
            self._memory.update(fresh)
            if len(self._memory) <= self.memory_ids:
                return
            fresh, self._memory = list(self._memory.items()), {}
            self._db = self._open()
        self._db.execute("BEGIN")  # one transaction per chunk, not one per id
        self._db.executemany("INSERT INTO seen VALUES (?, ?)", sorted(fresh))
        self._db.execute("COMMIT")

    def _open(self) -> sqlite3.Connection:
        self._dir = tempfile.TemporaryDirectory(prefix="loyalty-import-")
        db = sqlite3.connect(Path(self._dir.name) / "seen.db", isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-65536"):
            db.execute(f"PRAGMA {pragma}")
        db.execute("CREATE TABLE seen (order_id TEXT PRIMARY KEY, line INT) WITHOUT ROWID")
        return db

    def close(self) -> None:
        self._memory = {}
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


def _screen(groups: list[OrderGroup], seen: SeenOrders, report: ImportReport) -> list[HistoryOrder]:
    """The chunk's orders to write: duplicates and bad orders go into the report."""
    chunk: list[HistoryOrder] = []
    for group, first in zip(groups, seen.first_lines(groups), strict=True):
        if first is not None:
            reason = f"duplicate order_id '{group.order_id}', first seen on line {first}"
            report.errors.append((group.line, reason))
            continue
        report.orders += 1
        if group.error is not None:
            report.errors.append(group.error)
        elif group.record is not None:
            chunk.append(group.record)
    return chunk


class _Parsed(NamedTuple):
    """One chunk as parsed: the orders to write and what the report gains with them."""

    orders: list[HistoryOrder]
    rows: int
    seen: int  # orders met (bad ones included, duplicates not)
    errors: list[tuple[int, str]]


def _parse(
    rows: Iterable[tuple[int, Mapping[str, Any] | Exception]],
    mapping: Mapping[str, str],
    ctx: TenantContext,
    now: datetime,
    earn: bool,
    sqlite: bool,
) -> Iterator[_Parsed]:
    part = ImportReport()
    seen = SeenOrders(MEMORY_IDS)
    pending: list[OrderGroup] = []
    sent = [0, 0, 0]  # rows, orders, errors already handed on

    def emit() -> _Parsed:
        chunk = _screen(pending, seen, part)
        pending.clear()
        parsed = _Parsed(chunk, part.rows - sent[0], part.orders - sent[1], part.errors[sent[2] :])
        sent[:] = [part.rows, part.orders, len(part.errors)]
        return parsed

    try:
        for group in order_groups(rows, mapping, ctx, part, earn=earn, now=now, sqlite=sqlite):
            pending.append(group)
            if len(pending) >= CHUNK:
                yield emit()
        yield emit()
    finally:
        seen.close()


def _parse_apart(
    rows: Iterable[tuple[int, Mapping[str, Any] | Exception]],
    mapping: Mapping[str, str],
    ctx: TenantContext,
    now: datetime,
    earn: bool,
    sqlite: bool,
) -> Iterator[_Parsed]:
    """``_parse`` run in a forked process, its chunks handed over through a bounded queue
    (at most ``QUEUED`` chunks ahead of the writer, so memory stays bounded)."""
    context = multiprocessing.get_context("fork")
    queue: Any = context.Queue(maxsize=QUEUED)

    def produce() -> None:
        gc.freeze()  # the heap this process was forked with is not the parser's garbage
        try:
            for parsed in _parse(rows, mapping, ctx, now, earn, sqlite):
                queue.put(parsed)
            queue.put(None)
        except BaseException as error:  # the file could not be read to the end
            queue.put(f"{type(error).__name__}: {error}")
        queue.close()
        queue.join_thread()

    process = context.Process(target=produce, name="loyalty-import-parse", daemon=True)
    process.start()
    try:
        while True:
            try:
                item = queue.get(timeout=1.0)
            except Empty:
                if not process.is_alive():
                    raise RuntimeError("the process reading the file stopped") from None
                continue
            if item is None:
                break
            if isinstance(item, str):
                raise RuntimeError(item)
            yield item
        process.join()
    finally:
        if process.is_alive():
            process.terminate()
            process.join()
        queue.close()


def import_orders(
    db: Database,
    ctx: TenantContext,
    rows: Iterable[tuple[int, Mapping[str, Any] | Exception]],
    now: datetime,
    *,
    mapping: Mapping[str, str] | None = None,
    earn: bool = True,
    progress: Callable[[ImportReport], None] | None = None,
    parse_apart: bool = False,
) -> ImportReport:
    """Orders in chunks through the history writer (no inbox rows, no webhooks). Up to
    ``IN_FLIGHT`` chunks wait for the database's writer (on SQLite its thread may commit two
    in one transaction, each chunk in its own savepoint) while the next one is parsed: in
    this process, or with ``parse_apart``
    in a forked one (``rows`` is then read only there: give an iterable nothing else reads,
    such as a fresh ``read_rows(path)``), so parsing and writing use two cores. Forking is
    for a command-line process; where it is not available the rows are parsed here."""
    apart = parse_apart and "fork" in multiprocessing.get_all_start_methods()
    if apart:
        with _old_heap_left_alone():
            return _import_orders(db, ctx, rows, now, mapping, earn, progress, _parse_apart)
    return _import_orders(db, ctx, rows, now, mapping, earn, progress, _parse)


@contextmanager
def _old_heap_left_alone() -> Iterator[None]:
    """The garbage collector's full passes skip what the process held before (``gc.freeze``):
    an import allocates millions of short-lived objects, which start a full pass now and
    then, and each pass would walk the whole heap of the command (libraries, the database
    engine) for nothing. The rows are freed by reference counting; ``gc.unfreeze`` at the
    end gives the old heap back to the collector."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _import_orders(
    db: Database,
    ctx: TenantContext,
    rows: Iterable[tuple[int, Mapping[str, Any] | Exception]],
    now: datetime,
    mapping: Mapping[str, str] | None,
    earn: bool,
    progress: Callable[[ImportReport], None] | None,
    reader: Callable[..., Iterator[_Parsed]],
) -> ImportReport:
    report = ImportReport()
    started = time.perf_counter()
    chunks = reader(rows, mapping or {}, ctx, now, earn, db.sqlite)
    writing: deque[tuple[list[HistoryOrder], Future[list[str]]]] = deque()
    for parsed in chunks:
        report.rows += parsed.rows
        report.orders += parsed.seen
        report.errors += parsed.errors
        if parsed.orders:
            writing.append((parsed.orders, _submit(db, ctx, parsed.orders, now)))
        while len(writing) > IN_FLIGHT or (writing and writing[0][1].done()):
            _count(*writing.popleft(), report)
            if progress:
                progress(report)
    while writing:
        _count(*writing.popleft(), report)
    report.errors.sort()
    report.seconds = time.perf_counter() - started
    if progress:
        progress(report)
    return report


def _submit(
    db: Database, ctx: TenantContext, chunk: list[HistoryOrder], now: datetime
) -> Future[list[str]]:
    return db.submit(ctx.tenant_id, lambda uow: history.write_history(uow, ctx, chunk, now))


def _count(chunk: list[HistoryOrder], written: Future[list[str]], report: ImportReport) -> None:
    for order, outcome in zip(chunk, written.result(), strict=True):
        if outcome == history.IMPORTED:
            report.imported += 1
        elif outcome == history.ALREADY:
            report.already_there += 1
        else:
            report.errors.append((order.line, outcome))


def import_customers(
    db: Database,
    ctx: TenantContext,
    rows: Iterable[tuple[int, Mapping[str, Any] | Exception]],
    now: datetime,
    *,
    mapping: Mapping[str, str] | None = None,
    progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Customers become members (or update them): ``customer.created`` events, one by one."""
    report = ImportReport()
    started = time.perf_counter()
    fields = mapping or {}
    batch: list[tuple[int, InboundEvent]] = []
    for number, row in rows:
        report.rows += 1
        if isinstance(row, Exception):
            report.errors.append((number, str(row)))
            continue
        customer = _identifier(_value(row, fields, "customer_id"))
        if customer is None:
            report.errors.append((number, "customer_id is missing"))
            continue
        profile = {k: v for k in CUSTOMER_FIELDS[1:] if (v := _value(row, fields, k)) is not None}
        digest = hashlib.sha256(repr(sorted(profile.items())).encode()).hexdigest()
        event = InboundEvent(
            "import",
            f"customer:{customer}:{digest[:16]}",
            "customer.created",
            now,
            MemberRef(customer, {}),
            CustomerChanged(profile),
            digest,
        )
        batch.append((number, event))
        if len(batch) >= CHUNK:
            _write_customers(db, ctx, batch, now, report)
            batch = []
            if progress:
                progress(report)
    if batch:
        _write_customers(db, ctx, batch, now, report)
    report.orders = report.imported
    report.errors.sort()
    report.seconds = time.perf_counter() - started
    if progress:
        progress(report)
    return report


def _write_customers(
    db: Database,
    ctx: TenantContext,
    batch: list[tuple[int, InboundEvent]],
    now: datetime,
    report: ImportReport,
) -> None:
    def work(uow: Any) -> list[events.EventResult]:
        return bulk.process_batch(uow, ctx, [event for _, event in batch], now)

    for (line, _), result in zip(batch, db.run(ctx.tenant_id, work), strict=True):
        if result.error is not None:
            report.errors.append((line, result.error.detail))
        elif result.replayed:
            report.already_there += 1
        else:
            report.imported += 1


# --- imports running in the background (POST /v1/imports) ---------------------------------

STALLED_AFTER = 300  # seconds without progress: the process running it has probably stopped


def begin_import(
    uow: UnitOfWork, kind: str, filename: str, earn: bool, mapping: dict[str, str], now: datetime
) -> int:
    if kind not in ("orders", "customers"):
        raise ValidationFailed("kind must be 'orders' or 'customers'", field="kind")
    return ImportRepository(uow.conn, uow.tenant_id).add(kind, filename, earn, mapping, now)


def run_import(
    db: Database,
    ctx: TenantContext,
    import_id: int,
    kind: str,
    rows: Iterable[tuple[int, Mapping[str, Any] | Exception]],
    *,
    mapping: Mapping[str, str],
    earn: bool,
    clock: Clock,
) -> ImportReport:
    """Run an import, storing its progress after every chunk and its outcome at the end."""

    def save(report: ImportReport, status: str = "running") -> None:
        stored = {**report.to_dict(), "updated_at": clock.now().isoformat()}
        finished = clock.now() if status != "running" else None
        db.run(
            ctx.tenant_id,
            lambda uow: ImportRepository(uow.conn, uow.tenant_id).update(
                import_id, report=stored, status=status, finished_at=finished
            ),
        )

    report = ImportReport()
    try:
        if kind == "orders":
            report = import_orders(
                db, ctx, rows, clock.now(), mapping=mapping, earn=earn, progress=save
            )
        else:
            report = import_customers(db, ctx, rows, clock.now(), mapping=mapping, progress=save)
    except Exception as error:  # the file could not be read to the end
        report.errors.append((report.rows + 1, f"import stopped: {error}"))
        save(report, "failed")
        raise
    save(report, "done")
    return report


def import_view(uow: UnitOfWork, import_id: int, now: datetime) -> dict[str, Any]:
    row = ImportRepository(uow.conn, uow.tenant_id).get(import_id)
    if row is None:
        raise NotFound(f"no import {import_id}", field="id")
    report = dict(row["report"])
    status = row["status"]
    updated = report.get("updated_at")
    if status == "running" and updated:
        idle = (now - datetime.fromisoformat(updated)).total_seconds()
        if idle > STALLED_AFTER:
            status = "stalled"
    return {
        "id": row["id"],
        "kind": row["kind"],
        "filename": row["filename"],
        "award_points": bool(row["earn"]),
        "mapping": row["mapping"],
        "status": status,
        "progress": report,
        "created_at": row["created_at"].isoformat(),
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
    }
