"""All adapters behind one interface, for the ``/hooks/{tenant}/{platform}`` endpoint."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from loyalty.domain.connectors import HookOptions
from loyalty.domain.errors import NotFound
from loyalty.integrations import generic, saleor, shopify, woocommerce
from loyalty.integrations.jws import JwksCache
from loyalty.integrations.results import AdapterResult, Headers

Verify = Callable[[Headers, bytes, Sequence[str], datetime, HookOptions, JwksCache | None], None]
Map = Callable[[Headers, bytes, HookOptions], AdapterResult]


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
        options: HookOptions | None = None,
        keys: JwksCache | None = None,
    ) -> AdapterResult:
        """Verify the raw bytes, and only then parse them.

        Raises ``SignatureInvalid`` (answer 401, record nothing), ``KeysUnavailable`` (answer
        503: Saleor's keys could not be fetched) or a ``DomainError`` such as
        ``MalformedPayload`` for a signed body that cannot be mapped. ``keys`` caches the
        public keys of JWS-signing stores (Saleor) between calls.
        """
        settings = options or HookOptions()
        self.verify(headers, raw_body, secrets, now, settings, keys)
        return self.to_events(headers, raw_body, settings)


def _shopify_verify(headers: Headers, body: bytes, secrets: Sequence[str], *_: object) -> None:
    shopify.verify(headers, body, secrets)


def _woocommerce_verify(headers: Headers, body: bytes, secrets: Sequence[str], *_: object) -> None:
    woocommerce.verify(headers, body, secrets)


def _saleor_verify(
    headers: Headers,
    body: bytes,
    secrets: Sequence[str],
    _: datetime,
    options: HookOptions,
    keys: JwksCache | None,
) -> None:
    saleor.verify(headers, body, secrets, api_url=options.api_url, keys=keys)


def _generic_verify(
    headers: Headers, body: bytes, secrets: Sequence[str], now: datetime, *_: object
) -> None:
    generic.verify(headers, body, secrets, now=now)


ADAPTERS: Mapping[str, Adapter] = MappingProxyType(
    {
        shopify.SOURCE: Adapter(
            shopify.SOURCE,
            _shopify_verify,
            lambda h, b, o: shopify.to_events(h, b, guest_matching=o.guest_matching, options=o),
        ),
        woocommerce.SOURCE: Adapter(
            woocommerce.SOURCE,
            _woocommerce_verify,
            lambda h, b, o: woocommerce.to_events(h, b, guest_matching=o.guest_matching, options=o),
        ),
        saleor.SOURCE: Adapter(
            saleor.SOURCE,
            _saleor_verify,
            lambda h, b, o: saleor.to_events(h, b, guest_matching=o.guest_matching, options=o),
        ),
        generic.SOURCE: Adapter(
            generic.SOURCE,
            _generic_verify,
            lambda h, b, o: generic.to_events(h, b, guest_matching=o.guest_matching),
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
