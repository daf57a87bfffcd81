"""Paid membership: plans a member pays for, and the life of one membership.

A membership gives its plan's benefits from ``started_at`` until ``ends_at``: a trial first
(when the plan has one), then one term per renewal. Cancelling keeps the benefits until the
paid term ends (or ends them at once when asked); expiry ends them. An expired membership
stays in the history; a new one is started for a returning member.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.domain.money import quantum
from loyalty.domain.tiers._calendar import days_after, months_after, require_aware
from loyalty.domain.tiers._fields import Fields, at, check_range
from loyalty.domain.tiers.benefits import Benefits
from loyalty.domain.tiers.errors import IllegalMembershipTransition, InvalidTierSettings


class Term(StrEnum):
    MONTHLY = "monthly"
    YEARLY = "yearly"

    @property
    def months(self) -> int:
        return 1 if self is Term.MONTHLY else 12


@dataclass(frozen=True, slots=True)
class MembershipPlan:
    name: str
    price: Decimal
    currency: str
    term: Term
    benefits: Benefits
    trial_days: int = 0
    active: bool = True  # False: no new memberships on this plan; existing ones carry on

    def __post_init__(self) -> None:
        if not self.name.strip() or len(self.name) > 200:
            raise InvalidTierSettings("must be 1-200 characters", field="name")
        step = quantum(self.currency)
        if self.price < 0 or self.price != self.price.quantize(step):
            raise InvalidTierSettings(
                f"must be >= 0 with at most the decimals {self.currency} allows", field="price"
            )
        check_range(self.trial_days, 0, 365, "trial_days")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "price": str(self.price),
            "currency": self.currency,
            "term": self.term.value,
            "benefits": self.benefits.to_dict(),
            "trial_days": self.trial_days,
            "active": self.active,
        }

    @classmethod
    def from_dict(cls, data: object) -> MembershipPlan:
        fields = Fields(data)
        term = fields.text("term")
        try:
            plan_term = Term(term)
        except ValueError:
            raise InvalidTierSettings("must be monthly or yearly", field="term") from None
        with at("benefits"):
            benefits = Benefits.from_dict(fields.get("benefits"))
        plan = cls(
            name=fields.text("name"),
            price=fields.decimal("price"),
            currency=fields.text("currency"),
            term=plan_term,
            benefits=benefits,
            trial_days=fields.integer("trial_days", 0),
            active=fields.boolean("active", True),
        )
        fields.done()
        return plan


class MembershipStatus(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    CANCELLED = "cancelled"  # benefits continue until ``ends_at``
    EXPIRED = "expired"


class MembershipEvent(StrEnum):
    STARTED = "membership.started"
    RENEWED = "membership.renewed"
    CANCELLED = "membership.cancelled"
    EXPIRED = "membership.expired"


@dataclass(frozen=True, slots=True)
class Membership:
    id: str
    plan_id: int
    status: MembershipStatus
    started_at: datetime
    ends_at: datetime  # exclusive: benefits stop here unless renewed
    cancelled_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        """True while the member gets the plan's benefits."""
        return self.status is not MembershipStatus.EXPIRED and now < self.ends_at


def start(
    membership_id: str, plan_id: int, plan: MembershipPlan, now: datetime, tz: ZoneInfo
) -> Membership:
    """A new membership: the trial when the plan has one, else the first paid term."""
    require_aware(now, "at")
    if plan.trial_days:
        return Membership(
            membership_id,
            plan_id,
            MembershipStatus.TRIALING,
            now,
            days_after(now, plan.trial_days, tz),
        )
    return Membership(
        membership_id,
        plan_id,
        MembershipStatus.ACTIVE,
        now,
        months_after(now, plan.term.months, tz),
    )


def renew(membership: Membership, plan: MembershipPlan, now: datetime, tz: ZoneInfo) -> Membership:
    """One more term from the current end (or from ``now`` if it lapsed in between)."""
    _refuse_expired(membership, MembershipEvent.RENEWED)
    base = max(membership.ends_at, now)
    return replace(
        membership,
        status=MembershipStatus.ACTIVE,
        ends_at=months_after(base, plan.term.months, tz),
        cancelled_at=None,
    )


def cancel(membership: Membership, now: datetime, *, immediately: bool = False) -> Membership:
    """Stop renewing; benefits last until the paid term ends, or end now when ``immediately``."""
    _refuse_expired(membership, MembershipEvent.CANCELLED)
    if membership.status is MembershipStatus.CANCELLED and not immediately:
        return membership
    ends_at = min(membership.ends_at, now) if immediately else membership.ends_at
    return replace(
        membership,
        status=MembershipStatus.CANCELLED,
        ends_at=ends_at,
        cancelled_at=membership.cancelled_at or now,
    )


def expire(membership: Membership, now: datetime) -> Membership:
    """End the membership (the store's billing says so, or its term ran out)."""
    _refuse_expired(membership, MembershipEvent.EXPIRED)
    return replace(
        membership, status=MembershipStatus.EXPIRED, ends_at=min(membership.ends_at, now)
    )


def _refuse_expired(membership: Membership, event: MembershipEvent) -> None:
    if membership.status is MembershipStatus.EXPIRED:
        raise IllegalMembershipTransition(
            f"membership '{membership.id}' has expired; start a new one",
            field="membership_id",
            membership_status=membership.status.value,
            event=event.value,
        )
