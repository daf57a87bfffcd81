"""When the ``member.birthday`` event is due: the daily job asks this for each member.

A 29 February birthday falls on 28 February in other years. A birthday set or changed less
than 30 days before it earns nothing that year (no moving your birthday to next week for the
bonus). Dates are the tenant's local dates; the caller converts its clock.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

CHANGE_COOLDOWN_DAYS = 30


def birthday_in(birthday: date, year: int) -> date:
    """The day the birthday is celebrated in ``year``."""
    if birthday.month == 2 and birthday.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return birthday.replace(year=year)


def birthday_bonus_due(
    birthday: date, changed_on: date | None, today: date, *, catch_up_days: int = 0
) -> bool:
    """Is the birthday bonus due ``today``?

    ``changed_on`` is the local date the birthday was last set or changed (None: not known
    to have changed). ``catch_up_days`` lets a job that missed days still grant a birthday
    that passed at most that many days ago; the event's id (member + year) keeps it once.
    """
    for year in (today.year, today.year - 1):
        day = birthday_in(birthday, year)
        if day <= today <= day + timedelta(days=catch_up_days):
            return changed_on is None or (day - changed_on).days >= CHANGE_COOLDOWN_DAYS
    return False
