"""A store connector's settings as the adapters read them (stored per tenant and platform):
where orders carry our checkout id and the referral code, and which Saleor signs deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from loyalty.domain.errors import ValidationFailed

MAX_KEY_LENGTH = 100

# Where each platform's order carries our checkout id and the referral code the customer came
# with, unless the connector names other fields: a Shopify note attribute, a WooCommerce meta
# key, a Saleor metadata key.
DEFAULT_CHECKOUT_KEYS = {
    "shopify": "loyalty_checkout_id",
    "woocommerce": "_loyalty_checkout_id",
    "saleor": "loyalty_checkout_id",
}
DEFAULT_REFERRAL_KEYS = {
    "shopify": "loyalty_referral",
    "woocommerce": "_loyalty_referral",
    "saleor": "loyalty_referral",
}
DEFAULT_REFERRAL_PARAM = "ref"  # Shopify: ?ref=CODE on the order's landing_site
SETTINGS = ("api_url", "checkout_key", "referral_key", "referral_param")


@dataclass(frozen=True, slots=True)
class HookOptions:
    """What an adapter needs beyond the secrets; None means the platform's default."""

    guest_matching: bool = False
    checkout_key: str | None = None
    referral_key: str | None = None
    referral_param: str | None = None
    api_url: str | None = None  # Saleor: the instance whose JWKS signs its deliveries

    def checkout_field(self, platform: str) -> str:
        return self.checkout_key or DEFAULT_CHECKOUT_KEYS[platform]

    def referral_field(self, platform: str) -> str:
        return self.referral_key or DEFAULT_REFERRAL_KEYS[platform]

    def link_param(self) -> str:
        return self.referral_param or DEFAULT_REFERRAL_PARAM


def field_name(value: str | None, field: str) -> str | None:
    """A configured key: a non-blank name of at most ``MAX_KEY_LENGTH`` characters."""
    if value is None:
        return None
    name = value.strip()
    if not name or len(name) > MAX_KEY_LENGTH:
        raise ValidationFailed(f"{field} must be 1 to {MAX_KEY_LENGTH} characters", field=field)
    return name


def api_url(value: str | None) -> str | None:
    """Saleor's GraphQL API URL (``https://shop.example.com/graphql/``), as Saleor names itself
    in the ``Saleor-Api-Url`` header; an http(s) URL with a host and nothing after the path."""
    if value is None:
        return None
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed("api_url must be an http(s) URL", field="api_url")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationFailed(
            "api_url must have no query, fragment or credentials", field="api_url"
        )
    return url


def jwks_url(api_url: str) -> str:
    """Saleor publishes its signing keys at ``<scheme>://<host>/.well-known/jwks.json``."""
    parts = urlsplit(api_url)
    return f"{parts.scheme}://{parts.netloc}/.well-known/jwks.json"


def same_api_url(given: str, configured: str) -> bool:
    """Whether two spellings name the same API: scheme and host ignore case, and a trailing
    slash on the path does not count."""
    a, b = urlsplit(given.strip()), urlsplit(configured.strip())
    return (
        a.scheme.lower() == b.scheme.lower()
        and a.netloc.lower() == b.netloc.lower()
        and a.path.rstrip("/") == b.path.rstrip("/")
        and not a.query
    )


def validated(platform: str, settings: dict[str, str | None]) -> HookOptions:
    """A connector's settings checked for ``platform``; unset ones keep their defaults.

    ``api_url`` is Saleor's alone, ``referral_param`` Shopify's; the generic connector's
    envelope carries its own fields, so it takes none of them.
    """
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ValidationFailed(
            f"unknown connector settings: {', '.join(unknown)}", field=unknown[0]
        )
    given = {name: value for name, value in settings.items() if value is not None}
    allowed = {
        "shopify": {"checkout_key", "referral_key", "referral_param"},
        "woocommerce": {"checkout_key", "referral_key"},
        "saleor": {"api_url", "checkout_key", "referral_key"},
    }.get(platform, set())
    for name in given:
        if name not in allowed:
            raise ValidationFailed(f"the {platform} connector has no {name} setting", field=name)
    param = field_name(given.get("referral_param"), "referral_param")
    if param is not None and not param.isidentifier():
        raise ValidationFailed(
            "referral_param must be a plain parameter name", field="referral_param"
        )
    return HookOptions(
        checkout_key=field_name(given.get("checkout_key"), "checkout_key"),
        referral_key=field_name(given.get("referral_key"), "referral_key"),
        referral_param=param,
        api_url=api_url(given.get("api_url")),
    )


def stored(options: HookOptions) -> dict[str, str]:
    """The settings as stored: only the ones that are set."""
    values = {
        "api_url": options.api_url,
        "checkout_key": options.checkout_key,
        "referral_key": options.referral_key,
        "referral_param": options.referral_param,
    }
    return {name: value for name, value in values.items() if value is not None}


def from_stored(settings: dict[str, str] | None, guest_matching: bool) -> HookOptions:
    data = settings or {}
    return HookOptions(
        guest_matching=guest_matching,
        checkout_key=data.get("checkout_key"),
        referral_key=data.get("referral_key"),
        referral_param=data.get("referral_param"),
        api_url=data.get("api_url"),
    )
