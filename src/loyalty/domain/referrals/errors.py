"""Errors of the referral programme, each with a stable code."""

from __future__ import annotations

from loyalty.domain.errors import InvalidSettings, ReferralNotAllowed


class InvalidReferralProgram(InvalidSettings):
    """Referral settings that cannot be used; ``field`` is the path, e.g. ``fraud.velocity``."""


class IllegalReferralTransition(ReferralNotAllowed):
    """The referral's status does not allow the action; ``data`` names ``referral_status``
    and ``action``."""
