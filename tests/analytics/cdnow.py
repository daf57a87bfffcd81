"""The CDNOW data sets from ../shared/datasets (next to the repository). Tests that need them
skip, saying why, when the folder is absent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

DATASETS = Path(__file__).parents[2] / ".." / "shared" / "datasets"
CDNOW = DATASETS / "cdnow"


@dataclass(frozen=True)
class Transactions:
    customer_id: npt.NDArray[np.int64]
    date: npt.NDArray[np.datetime64]
    amount: npt.NDArray[np.float64]


@dataclass(frozen=True)
class Summary:
    customer_id: npt.NDArray[np.int64]
    frequency: npt.NDArray[np.float64]
    recency: npt.NDArray[np.float64]
    T: npt.NDArray[np.float64]


def require(name: str) -> Path:
    path = CDNOW / name
    if not path.is_file():
        pytest.skip(f"CDNOW data not found at {path.resolve()} (shared/datasets is absent)")
    return path


def read_transactions(
    path: Path, *, id_column: int, date_column: int, skip_header: bool
) -> Transactions:
    rows = np.loadtxt(path, dtype=str, skiprows=1 if skip_header else 0)
    dates = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in rows[:, date_column]])
    return Transactions(
        customer_id=rows[:, id_column].astype(np.int64),
        date=dates.astype("datetime64[D]"),
        amount=rows[:, -1].astype(np.float64),
    )
