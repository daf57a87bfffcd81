"""CDNOW fixtures, read once per test run (see ``cdnow.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.analytics.cdnow import Summary, Transactions, read_transactions, require


@pytest.fixture(scope="session")
def cdnow_summary() -> Summary:
    """The published calibration summary of the 1/10 sample (weeks 1-39, in weeks)."""
    table = np.loadtxt(require("cdnow_customers_summary.csv"), delimiter=",", skiprows=1)
    return Summary(table[:, 0].astype(np.int64), table[:, 1], table[:, 2], table[:, 3])


@pytest.fixture(scope="session")
def cdnow_sample() -> Transactions:
    """The 1/10 sample's transactions: ``master_id sample_id date cds amount``, keyed by the
    sample id (the ID of the summary file)."""
    return read_transactions(
        require("CDNOW_sample.txt"), id_column=1, date_column=2, skip_header=False
    )


@pytest.fixture(scope="session")
def cdnow_master() -> Transactions:
    """All 23,570 customers: ``customer_id date number_of_cds dollar_value`` with a header."""
    return read_transactions(
        require("CDNOW_master.txt"), id_column=0, date_column=1, skip_header=True
    )
