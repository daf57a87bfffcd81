"""All adapters behind one interface, for the ``/hooks/{tenant}/{platform}`` endpoint."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from loyalty.domain.errors import NotFound
from loyalty.integrations import generic, saleor, shopify, woocommerce
from loyalty.integrations.results import AdapterResult, Headers

Verify = Callable[[Headers, bytes, Sequence[str], datetime], None]
Map = Callable[[Headers, bytes, bool], AdapterResult]


@dataclass(frozen=True, slots=True)
class Adapter:
    """One platform's webhook handling: check the signature, then map the payload."""

    platform: str
    verify: Verify
    to_events: Map

    def receive(
        self,
        headers: Headers,
        raw_body: bytes,
        secrets: Sequence[str],
        *,
        now: datetime,
        guest_matching: bool,
    ) -> AdapterResult:
        """Verify the raw bytes, and only then parse them.

        Raises ``SignatureInvalid`` (answer 401, record nothing) or a ``DomainError`` such as
        ``MalformedPayload`` for a signed body that cannot be mapped.
        """
        self.verify(headers, raw_body, secrets, now)
        return self.to_events(headers, raw_body, guest_matching)


def _shopify_verify(headers: Headers, body: bytes, secrets: Sequence[str], _: datetime) -> None:
    shopify.verify(headers, body, secrets)


def _woocommerce_verify(headers: Headers, body: bytes, secrets: Sequence[str], _: datetime) -> None:
    woocommerce.verify(headers, body, secrets)


def _saleor_verify(headers: Headers, body: bytes, secrets: Sequence[str], _: datetime) -> None:
    saleor.verify(headers, body, secrets)


def _generic_verify(headers: Headers, body: bytes, secrets: Sequence[str], now: datetime) -> None:
    generic.verify(headers, body, secrets, now=now)


ADAPTERS: Mapping[str, Adapter] = MappingProxyType(
    {
        shopify.SOURCE: Adapter(
            shopify.SOURCE,
            _shopify_verify,
            lambda h, b, g: shopify.to_events(h, b, guest_matching=g),
        ),
        woocommerce.SOURCE: Adapter(
            woocommerce.SOURCE,
            _woocommerce_verify,
            lambda h, b, g: woocommerce.to_events(h, b, guest_matching=g),
        ),
        saleor.SOURCE: Adapter(
            saleor.SOURCE,
            _saleor_verify,
            lambda h, b, g: saleor.to_events(h, b, guest_matching=g),
        ),
        generic.SOURCE: Adapter(
            generic.SOURCE,
            _generic_verify,
            lambda h, b, g: generic.to_events(h, b, guest_matching=g),
        ),
    }
)


def adapter_for(platform: str) -> Adapter:
    """The adapter named in the hook URL; ``NotFound`` for a platform we do not support."""
    adapter = ADAPTERS.get(platform.lower())
    if adapter is None:
        raise NotFound(
            f"no connector for platform '{platform}'; expected one of {', '.join(ADAPTERS)}",
            field="platform",
        )
    return adapter
