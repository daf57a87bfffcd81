"""Which events an earning rule can listen to."""

from __future__ import annotations

import re

ORDER_PAID = "order.paid"

ACTION_EVENTS = (
    "member.signed_up",
    "member.birthday",
    "review.approved",
    "referral.completed",
    "social.shared",
    "newsletter.subscribed",
    "survey.answered",
)
TRIGGERS = (ORDER_PAID, *ACTION_EVENTS)

_CUSTOM = re.compile(r"^custom\.[a-z0-9][a-z0-9_.-]{0,63}$")


def is_trigger(name: str) -> bool:
    """A known event type, or ``custom.<name>`` (lower case, digits, ``_ . -``)."""
    return name in TRIGGERS or bool(_CUSTOM.match(name))


ACTION_TAG = "action"
ACTION_TYPE_PATTERN = (
    "^("
    + "|".join(re.escape(name) for name in ACTION_EVENTS)
    + r"|custom\.[a-z0-9][a-z0-9_.-]{0,63})$"
)


def is_action_event(name: str) -> bool:
    """An event a member's action raises: one of ``ACTION_EVENTS`` or ``custom.<name>``."""
    return name in ACTION_EVENTS or bool(_CUSTOM.match(name))


def needs_order(trigger: str) -> bool:
    return trigger == ORDER_PAID
