"""The referral programme's settings: who gets what, when, and which fraud checks run.

The return window is not a setting of its own: it is the points programme's ``pending_days``,
the same window in which an order's own points stay pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from loyalty.domain.referrals._fields import Fields, at
from loyalty.domain.referrals.errors import InvalidReferralProgram
from loyalty.domain.referrals.fraud import FraudPolicy


class WelcomeTiming(StrEnum):
    """When the friend's welcome coupon is issued."""

    FIRST_ORDER = "first_order"  # when their first order is paid (to use on the next one)
    ATTRIBUTION = "attribution"  # as soon as they are attributed (to use on the first one)


@dataclass(frozen=True, slots=True)
class ReferralProgram:
    """``referrer_points``: what the referrer earns once the friend's first order has cleared
    the return window (0: nothing, the referral stays ``qualified``).
    ``welcome_coupon``: the friend gets a single-use coupon code, worth the welcome benefit:
    ``welcome_reward_id`` (a catalogue reward that is a checkout coupon) or
    ``welcome_promotion_id`` (a code promotion), one of them; without either no code is
    issued. ``welcome_valid_days``: how long the code works (None: no end).
    ``link_base_url``: the store page a referral link opens; without it there is no link.
    ``cancel_on_partial_refund``: a partial refund of the first order within the window
    cancels the referral like a full one."""

    enabled: bool = True
    referrer_points: int = 500
    welcome_coupon: bool = True
    welcome_reward_id: str | None = None
    welcome_promotion_id: str | None = None
    welcome_valid_days: int | None = None
    welcome_timing: WelcomeTiming = WelcomeTiming.FIRST_ORDER
    link_base_url: str | None = None
    link_param: str = "ref"
    cancel_on_partial_refund: bool = True
    fraud: FraudPolicy = field(default_factory=FraudPolicy)

    def __post_init__(self) -> None:
        if not 0 <= self.referrer_points <= 10_000_000:
            raise InvalidReferralProgram("must be between 0 and 10000000", field="referrer_points")
        if self.link_base_url is not None and not _is_web_url(self.link_base_url):
            raise InvalidReferralProgram("must be an http(s) URL", field="link_base_url")
        if not self.link_param.isidentifier():
            raise InvalidReferralProgram("must be a plain parameter name", field="link_param")
        if self.welcome_reward_id is not None and self.welcome_promotion_id is not None:
            raise InvalidReferralProgram(
                "name the welcome benefit by a reward or by a promotion, not both",
                field="welcome_promotion_id",
            )
        if self.welcome_valid_days is not None and not 1 <= self.welcome_valid_days <= 3650:
            raise InvalidReferralProgram("must be between 1 and 3650", field="welcome_valid_days")

    @property
    def issues_welcome_coupon(self) -> bool:
        """The friend gets a code: switched on, and what it is worth is configured."""
        has_benefit = self.welcome_reward_id is not None or self.welcome_promotion_id is not None
        return self.welcome_coupon and has_benefit

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "referrer_points": self.referrer_points,
            "welcome_coupon": self.welcome_coupon,
            "welcome_reward_id": self.welcome_reward_id,
            "welcome_promotion_id": self.welcome_promotion_id,
            "welcome_valid_days": self.welcome_valid_days,
            "welcome_timing": self.welcome_timing.value,
            "link_base_url": self.link_base_url,
            "link_param": self.link_param,
            "cancel_on_partial_refund": self.cancel_on_partial_refund,
            "fraud": self.fraud.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: object) -> ReferralProgram:
        """Missing keys keep their defaults; unknown keys are refused."""
        fields = Fields(data)
        default = cls()
        with at("fraud"):
            fraud = FraudPolicy.from_dict(fields.get("fraud"))
        program = cls(
            enabled=fields.boolean("enabled", default.enabled),
            referrer_points=fields.integer("referrer_points", default.referrer_points),
            welcome_coupon=fields.boolean("welcome_coupon", default.welcome_coupon),
            welcome_reward_id=fields.opt_text("welcome_reward_id"),
            welcome_promotion_id=fields.opt_text("welcome_promotion_id"),
            welcome_valid_days=fields.opt_int("welcome_valid_days"),
            welcome_timing=_timing(fields),
            link_base_url=fields.opt_text("link_base_url"),
            link_param=fields.opt_text("link_param") or default.link_param,
            cancel_on_partial_refund=fields.boolean("cancel_on_partial_refund", True),
            fraud=fraud,
        )
        fields.done()
        return program


def _is_web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _timing(fields: Fields) -> WelcomeTiming:
    value = fields.opt_text("welcome_timing") or WelcomeTiming.FIRST_ORDER.value
    try:
        return WelcomeTiming(value)
    except ValueError:
        raise InvalidReferralProgram(
            "must be 'first_order' or 'attribution'", field="welcome_timing"
        ) from None
