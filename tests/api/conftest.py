"""Fixtures for the HTTP tests: a shop (tenant) with a client holding its admin key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.api.support import Api, client_for
from tests.conftest import Shop


@pytest.fixture
def make_api(make_shop: Callable[..., Shop]) -> Iterator[Callable[..., Api]]:
    """Build a shop with the given settings and a client on it; closed after the test."""
    with ExitStack() as stack:

        def make(**settings: Any) -> Api:
            shop = make_shop(**settings)
            return Api(shop, stack.enter_context(client_for(shop)))

        yield make


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """A shop whose points are available at once (no return window) and never expire."""
    return make_api(pending_days=0)
