"""Errors the tier and paid-membership domain raises.

They reuse existing ``ErrorCode`` values so the API maps them without changes; dedicated codes
(``invalid_tier``, ``membership_transition``) can replace them later in ``domain/errors.py``.
"""

from __future__ import annotations

from loyalty.domain.errors import DomainError, ErrorCode, ValidationFailed


class InvalidTierSettings(ValidationFailed):
    """Tier ladder, benefit or membership plan data that cannot be used.

    ``field`` is the path of the bad value, e.g. ``levels[1].benefits.earn_multiplier``.
    """


class UnknownTier(ValidationFailed):
    """A tier id the ladder does not have; ``data`` carries ``tier``."""


class IllegalMembershipTransition(DomainError):
    """A membership event that the membership's state does not allow (409).

    ``data`` carries ``status`` (the state before, or ``None``) and ``event`` (its type).
    """

    code = ErrorCode.EVENT_CONFLICT
