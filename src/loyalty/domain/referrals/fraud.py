"""Fraud checks on a referral, each configurable and each answering with a reason.

- ``self_referral``: the referee is the referrer's own member record (always checked);
- ``self_referral_email``: the same mailbox after normalising (``identity.mailbox``);
- ``self_referral_phone``: the same phone number (its last ``phone_digits`` digits);
- ``self_referral_address``: a shipping address in common, normalised;
- ``self_referral_device`` / ``self_referral_ip``: a device or IP hash in common, when the
  store sends them;
- ``velocity_cap``: the referrer already has ``max_referrals`` referrals in the last day/week
  (rolling windows: a burst just after midnight counts as a burst);
- ``existing_customer``: the referee had paid orders before, or their account is older than
  the grace period.

All findings are returned, not only the first, so the referral records every reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from loyalty.domain.referrals._fields import Fields, at
from loyalty.domain.referrals.errors import InvalidReferralProgram
from loyalty.domain.referrals.identity import EmailRules, mailbox, phone_key


class FraudReason(StrEnum):
    """Part of the API: never rename a value."""

    SELF_REFERRAL = "self_referral"
    SAME_EMAIL = "self_referral_email"
    SAME_PHONE = "self_referral_phone"
    SAME_ADDRESS = "self_referral_address"
    SAME_DEVICE = "self_referral_device"
    SAME_IP = "self_referral_ip"
    VELOCITY = "velocity_cap"
    EXISTING_CUSTOMER = "existing_customer"


class VelocityWindow(StrEnum):
    DAY = "day"
    WEEK = "week"

    @property
    def length(self) -> timedelta:
        return timedelta(days=1) if self is VelocityWindow.DAY else timedelta(days=7)


@dataclass(frozen=True, slots=True)
class VelocityCap:
    """At most ``max_referrals`` new referrals per referrer in any rolling ``window``."""

    window: VelocityWindow
    max_referrals: int

    def __post_init__(self) -> None:
        if self.max_referrals < 1:
            raise InvalidReferralProgram("must be at least 1", field="max_referrals")


@dataclass(frozen=True, slots=True)
class FraudPolicy:
    same_email: bool = True
    same_phone: bool = True
    same_address: bool = True
    same_device: bool = True
    same_ip: bool = True
    existing_customer: bool = True
    velocity: tuple[VelocityCap, ...] = (
        VelocityCap(VelocityWindow.DAY, 5),
        VelocityCap(VelocityWindow.WEEK, 20),
    )
    # an account created this long before the attribution still counts as new (signing up
    # and following the link rarely happen in that order); None: account age is not checked
    new_customer_grace: timedelta | None = timedelta(hours=24)
    phone_digits: int = 9
    email_rules: EmailRules = field(default_factory=EmailRules)

    def __post_init__(self) -> None:
        if not 6 <= self.phone_digits <= 15:
            raise InvalidReferralProgram("must be between 6 and 15", field="phone_digits")
        windows = [cap.window for cap in self.velocity]
        for index, window in enumerate(windows):
            if window in windows[:index]:
                raise InvalidReferralProgram(
                    f"window '{window}' is capped twice", field=f"velocity[{index}]"
                )
        if self.new_customer_grace is not None and self.new_customer_grace < timedelta(0):
            raise InvalidReferralProgram("must not be negative", field="new_customer_grace_hours")

    @property
    def lookback(self) -> timedelta:
        """How far back the services must list the referrer's referrals for the velocity caps."""
        return max((cap.window.length for cap in self.velocity), default=timedelta(0))

    def to_dict(self) -> dict[str, Any]:
        grace = self.new_customer_grace
        return {
            "same_email": self.same_email,
            "same_phone": self.same_phone,
            "same_address": self.same_address,
            "same_device": self.same_device,
            "same_ip": self.same_ip,
            "existing_customer": self.existing_customer,
            "velocity": [
                {"window": cap.window.value, "max_referrals": cap.max_referrals}
                for cap in self.velocity
            ],
            "new_customer_grace_hours": None if grace is None else grace // timedelta(hours=1),
            "phone_digits": self.phone_digits,
            "dotless_domains": sorted(self.email_rules.dotless_domains),
            "plus_alias_domains": sorted(self.email_rules.plus_alias_domains),
        }

    @classmethod
    def from_dict(cls, data: object) -> FraudPolicy:
        """Missing keys keep their defaults; ``"velocity": []`` switches the caps off."""
        if data is None:
            return cls()
        fields = Fields(data)
        default = cls()
        velocity = default.velocity
        if fields.get("velocity") is not None:
            velocity = tuple(_caps(fields))
        dotless = fields.opt_texts("dotless_domains")
        plus = fields.opt_texts("plus_alias_domains")
        rules = EmailRules(
            default.email_rules.dotless_domains if dotless is None else _lower(dotless),
            default.email_rules.plus_alias_domains if plus is None else _lower(plus),
        )
        policy = cls(
            same_email=fields.boolean("same_email", True),
            same_phone=fields.boolean("same_phone", True),
            same_address=fields.boolean("same_address", True),
            same_device=fields.boolean("same_device", True),
            same_ip=fields.boolean("same_ip", True),
            existing_customer=fields.boolean("existing_customer", True),
            velocity=velocity,
            new_customer_grace=_grace(fields, default.new_customer_grace),
            phone_digits=fields.integer("phone_digits", default.phone_digits),
            email_rules=rules,
        )
        fields.done()
        return policy


def _caps(fields: Fields) -> list[VelocityCap]:
    caps = []
    for index, item in enumerate(fields.objects("velocity")):
        with at(f"velocity[{index}]"):
            cap_fields = Fields(item)
            try:
                window = VelocityWindow(cap_fields.text("window"))
            except ValueError:
                raise InvalidReferralProgram("must be 'day' or 'week'", field="window") from None
            caps.append(VelocityCap(window, cap_fields.opt_int("max_referrals") or 0))
            cap_fields.done()
    return caps


def _lower(domains: frozenset[str]) -> frozenset[str]:
    return frozenset(domain.lower() for domain in domains)


def _grace(fields: Fields, default: timedelta | None) -> timedelta | None:
    if not fields.has("new_customer_grace_hours"):
        return default
    hours = fields.opt_int("new_customer_grace_hours")
    return None if hours is None else timedelta(hours=hours)


@dataclass(frozen=True, slots=True)
class Party:
    """One side of a referral, as far as the checks need it. Hash values are compared as
    given (the store hashes device ids and IPs; we never see the raw values); addresses are
    compared by ``identity.address_key``."""

    member_id: str
    email: str | None = None
    phone: str | None = None
    address_keys: frozenset[str] = frozenset()
    device_hashes: frozenset[str] = frozenset()
    ip_hashes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ReferralFacts:
    """What the services know when a referee is attributed.

    ``referee_prior_orders``: the referee's paid orders before this attribution.
    ``referrer_recent``: when the referrer's earlier referrals (not rejected ones) were
    attributed, at least ``FraudPolicy.lookback`` back.
    """

    referrer: Party
    referee: Party
    referee_prior_orders: int = 0
    referee_member_since: datetime | None = None
    referrer_recent: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class FraudFinding:
    reason: FraudReason
    detail: str


def check_fraud(
    policy: FraudPolicy, facts: ReferralFacts, now: datetime
) -> tuple[FraudFinding, ...]:
    """Every check the policy enables that the facts fail, in a fixed order."""
    findings = [
        *_self_referral(policy, facts.referrer, facts.referee),
        *_velocity(policy, facts.referrer_recent, now),
        *_existing_customer(policy, facts, now),
    ]
    return tuple(findings)


def _self_referral(policy: FraudPolicy, referrer: Party, referee: Party) -> list[FraudFinding]:
    if referrer.member_id == referee.member_id:
        return [FraudFinding(FraudReason.SELF_REFERRAL, "the referee is the referrer")]
    found = []
    if policy.same_email and _same(
        mailbox(referrer.email, policy.email_rules), mailbox(referee.email, policy.email_rules)
    ):
        found.append(FraudFinding(FraudReason.SAME_EMAIL, "the same mailbox as the referrer"))
    digits = policy.phone_digits
    if policy.same_phone and _same(
        phone_key(referrer.phone, digits), phone_key(referee.phone, digits)
    ):
        found.append(FraudFinding(FraudReason.SAME_PHONE, "the same phone as the referrer"))
    if policy.same_address and _shared(referrer.address_keys, referee.address_keys):
        found.append(FraudFinding(FraudReason.SAME_ADDRESS, "a shipping address of the referrer"))
    if policy.same_device and _shared(referrer.device_hashes, referee.device_hashes):
        found.append(FraudFinding(FraudReason.SAME_DEVICE, "a device the referrer used"))
    if policy.same_ip and _shared(referrer.ip_hashes, referee.ip_hashes):
        found.append(FraudFinding(FraudReason.SAME_IP, "an IP address the referrer used"))
    return found


def _velocity(
    policy: FraudPolicy, recent: tuple[datetime, ...], now: datetime
) -> list[FraudFinding]:
    for cap in policy.velocity:
        since = now - cap.window.length
        count = sum(1 for moment in recent if since < moment <= now)
        if count >= cap.max_referrals:
            detail = (
                f"{count} referrals in the last {cap.window.value}; at most {cap.max_referrals}"
            )
            return [FraudFinding(FraudReason.VELOCITY, detail)]
    return []


def _existing_customer(
    policy: FraudPolicy, facts: ReferralFacts, now: datetime
) -> list[FraudFinding]:
    if not policy.existing_customer:
        return []
    if facts.referee_prior_orders > 0:
        detail = f"the referee has {facts.referee_prior_orders} earlier order(s)"
        return [FraudFinding(FraudReason.EXISTING_CUSTOMER, detail)]
    since, grace = facts.referee_member_since, policy.new_customer_grace
    if since is not None and grace is not None and since < now - grace:
        detail = f"the referee has been a member since {since.isoformat()}"
        return [FraudFinding(FraudReason.EXISTING_CUSTOMER, detail)]
    return []


def _same(left: str | None, right: str | None) -> bool:
    return left is not None and left == right


def _shared(left: frozenset[str], right: frozenset[str]) -> bool:
    return not left.isdisjoint(right)
