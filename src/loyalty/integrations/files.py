"""Reading history files as a stream of rows: CSV (with a header) or JSON Lines.

Constant memory whatever the size; gzip is read transparently (``.gz``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


class RowError(Exception):
    """A line that could not be read at all (bad JSON): reported, and the others go on."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def file_format(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    return "jsonl" if name.endswith((".jsonl", ".ndjson", ".json")) else "csv"


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """(line number, row) pairs; the header of a CSV is line 1, so data starts at line 2."""
    with _open(path) as handle:
        if file_format(path) == "jsonl":
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as error:
                    yield number, RowError(number, f"not JSON: {error.msg}")
                    continue
                yield (
                    number,
                    value if isinstance(value, dict) else RowError(number, "not an object"),
                )
        else:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                yield number, row
