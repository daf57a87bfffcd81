"""Errors the tier and paid-membership domain raises."""

from __future__ import annotations

from loyalty.domain.errors import MembershipTransition, ValidationFailed


class InvalidTierSettings(ValidationFailed):
    """Tier ladder, benefit or membership plan data that cannot be used.

    ``field`` is the path of the bad value, e.g. ``levels[1].benefits.earn_multiplier``.
    """


class UnknownTier(ValidationFailed):
    """A tier id the ladder does not have; ``data`` carries ``tier``."""


class IllegalMembershipTransition(MembershipTransition):
    """A membership event that the membership's state does not allow (409).

    ``data`` carries ``membership_status`` (the state before) and ``event`` (its type).
    """
