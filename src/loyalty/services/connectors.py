"""Store connectors: per-platform settings, applying what an adapter mapped, guest orders.

The HTTP layer verifies a hook with the platform's adapter (``loyalty.integrations``) before
anything here runs; events then take the same path as ``POST /v1/events``, deduplicated by the
platform's own delivery id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from loyalty.domain import connectors as options
from loyalty.domain.connectors import HookOptions
from loyalty.domain.errors import DomainError, NotFound, ValidationFailed
from loyalty.domain.events import InboundEvent, MemberRef, OrderPaid, ReferralData
from loyalty.domain.members import normalise_email
from loyalty.domain.referrals.identity import Address
from loyalty.services import events
from loyalty.services.context import TenantContext
from loyalty.services.lookup import require_member
from loyalty.services.program import load_context
from loyalty.services.secret_box import SecretBox
from loyalty.store.connectors import ConnectorRepository
from loyalty.store.uow import Database, UnitOfWork

PLATFORMS = ("shopify", "woocommerce", "saleor", "generic")


@dataclass(frozen=True, slots=True)
class HookTarget:
    context: TenantContext
    secrets: list[str]
    options: HookOptions

    @property
    def guest_matching(self) -> bool:
        return self.options.guest_matching


def _platform(platform: str) -> str:
    if platform not in PLATFORMS:
        raise NotFound(
            f"no connector for '{platform}'; one of {', '.join(PLATFORMS)}", field="platform"
        )
    return platform


def configure(
    uow: UnitOfWork,
    box: SecretBox,
    platform: str,
    secrets: list[str],
    guest_matching: bool,
    enabled: bool,
    now: datetime,
    settings: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """Store the platform's webhook secrets (current first, then an old one during rotation)
    and its settings (``domain.connectors.SETTINGS``).

    A Saleor connector may have no secret at all when ``api_url`` is set: Saleor then signs
    with a JWS checked against that instance's public keys.
    """
    _platform(platform)
    chosen = options.validated(platform, settings or {})
    keyless = platform == "saleor" and chosen.api_url is not None
    if not (0 if keyless else 1) <= len(secrets) <= 2 or any(len(s) < 8 for s in secrets):
        need = "at most two secrets" if keyless else "one or two secrets"
        raise ValidationFailed(f"give {need} of at least 8 characters", field="secrets")
    ConnectorRepository(uow.conn, uow.tenant_id).put(
        platform, box.seal(secrets), guest_matching, enabled, now, options.stored(chosen)
    )
    audited = {"secrets": len(secrets), "enabled": enabled, **options.stored(chosen)}
    uow.audit("api", "connector.configured", platform, audited, now)
    return describe(uow, platform)


def describe(uow: UnitOfWork, platform: str) -> dict[str, Any]:
    row = ConnectorRepository(uow.conn, uow.tenant_id).get(_platform(platform))
    if row is None:
        raise NotFound(f"the {platform} connector is not configured", field="platform")
    chosen = options.from_stored(row["settings"], bool(row["guest_matching"]))
    described: dict[str, Any] = {
        "platform": platform,
        "enabled": bool(row["enabled"]),
        "guest_matching": chosen.guest_matching,
        "updated_at": row["updated_at"].isoformat(),
        "webhook_path": f"/hooks/{{tenant}}/{platform}",
    }
    if platform in options.DEFAULT_CHECKOUT_KEYS:  # the fields read, defaults filled in
        described["checkout_key"] = chosen.checkout_field(platform)
        described["referral_key"] = chosen.referral_field(platform)
    if platform == "shopify":
        described["referral_param"] = chosen.link_param()
    if platform == "saleor":
        described["api_url"] = chosen.api_url
        described["jwks_url"] = options.jwks_url(chosen.api_url) if chosen.api_url else None
    return described


def hook_target(db: Database, box: SecretBox, tenant_name: str, platform: str) -> HookTarget:
    """Who a hook call is for; NotFound unless that tenant has the connector enabled."""
    _platform(platform)
    with db.admin(read_only=True) as admin:
        tenant = admin.find_tenant(tenant_name)
    if tenant is None:
        raise NotFound("no such connector", field="tenant")
    with db.read(tenant["id"]) as uow:
        row = ConnectorRepository(uow.conn, uow.tenant_id).get(platform)
        if row is None or not row["enabled"]:
            raise NotFound("no such connector", field="platform")
        return HookTarget(
            load_context(uow, actor=f"hook:{platform}"),
            box.open(row["secrets"]),
            options.from_stored(row["settings"], bool(row["guest_matching"])),
        )


def apply(
    db: Database, ctx: TenantContext, platform: str, items: Sequence[Any], now: datetime
) -> list[dict[str, Any]]:
    """Apply mapped events in order, in one transaction, each on its own: one that cannot be
    applied (say, a refund of an order we never saw) is reported and the others still apply.
    Guest orders are kept for a later claim."""

    def work(uow: UnitOfWork) -> list[dict[str, Any]]:
        outcome = []
        for item in items:
            if not isinstance(item, InboundEvent):
                outcome.append(_keep_guest_order(uow, platform, item.event, item.email, now))
                continue
            try:
                with uow.savepoint():
                    result = events.process(uow, ctx, item, now)
            except DomainError as error:
                # Reported in the answer, not raised: a store retries a failed delivery for
                # hours (and may switch the webhook off), and the event would fail every time.
                rejected = {"status": "rejected", "code": error.code.value, "detail": error.detail}
                outcome.append({"event_id": item.event_id, **rejected})
                continue
            outcome.append({"event_id": item.event_id, "replayed": result.replayed, **result.body})
        return outcome

    return db.run(ctx.tenant_id, work)


def _keep_guest_order(
    uow: UnitOfWork, platform: str, event: InboundEvent, email: str | None, now: datetime
) -> dict[str, Any]:
    assert isinstance(event.payload, OrderPaid)
    stored = {
        "event_id": event.event_id,
        "occurred_at": event.occurred_at.isoformat(),
        "body_hash": event.body_hash,
        "order": events.order_to_json(event.payload.order),
        "checkout_id": event.payload.checkout_id,
        "referral": _referral_to_json(event.payload.referral),
    }
    fresh = ConnectorRepository(uow.conn, uow.tenant_id).keep_guest_order(
        platform, event.event_id, normalise_email(email) if email else None, stored, now
    )
    return {"event_id": event.event_id, "status": "unmatched guest order", "replayed": not fresh}


def claim_orders(
    uow: UnitOfWork, ctx: TenantContext, external_id: str, now: datetime
) -> dict[str, Any]:
    """Give a member the guest orders placed with their email address, earning as if they had
    been logged in (the orders keep their original dates)."""
    member = require_member(uow, external_id)
    if not member["email"]:
        raise ValidationFailed(
            "the member has no email address to match guest orders by", field="email"
        )
    connectors = ConnectorRepository(uow.conn, uow.tenant_id)
    claimed = []
    for row in connectors.unclaimed_for(member["email"]):
        stored = row["event"]
        event = InboundEvent(
            source=row["platform"],
            event_id=stored["event_id"],
            type="order.paid",
            occurred_at=datetime.fromisoformat(stored["occurred_at"]),
            member=MemberRef(external_id),
            payload=OrderPaid(
                events.order_from_json(stored["order"]),
                referral=_referral_from_json(stored.get("referral")),
                checkout_id=stored.get("checkout_id"),
            ),
            body_hash=stored["body_hash"],
        )
        try:
            with uow.savepoint():
                result = events.process(uow, ctx, event, now)
        except DomainError as error:
            claimed.append({"order_id": stored["order"]["order_id"], "error": error.detail})
            continue
        connectors.mark_claimed(row["id"], external_id, now)
        claimed.append({"order_id": stored["order"]["order_id"], "effects": result.body["effects"]})
    return {"member": external_id, "claimed": claimed}


def _referral_to_json(referral: ReferralData | None) -> dict[str, Any] | None:
    """What a guest order carries for referrals, kept with it until it is claimed."""
    if referral is None:
        return None
    address = referral.shipping_address
    return {
        "code": referral.code,
        "device_hash": referral.device_hash,
        "ip_hash": referral.ip_hash,
        "shipping_address": None if address is None else asdict(address),
    }


def _referral_from_json(data: dict[str, Any] | None) -> ReferralData | None:
    """``_referral_to_json`` read back; guest orders kept before it was stored have none."""
    if data is None:
        return None
    address = data.get("shipping_address")
    return ReferralData(
        data.get("code"),
        data.get("device_hash"),
        data.get("ip_hash"),
        None if address is None else Address(**address),
    )
