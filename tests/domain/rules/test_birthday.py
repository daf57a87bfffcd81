"""Birthday bonus: when it is due, 29 February, and recently changed birthdays."""

from __future__ import annotations

from datetime import date

from loyalty.domain.rules import birthday_bonus_due, birthday_in


def test_birthday_falls_on_its_date() -> None:
    assert birthday_bonus_due(date(1990, 5, 17), None, date(2026, 5, 17))
    assert not birthday_bonus_due(date(1990, 5, 17), None, date(2026, 5, 16))
    assert not birthday_bonus_due(date(1990, 5, 17), None, date(2026, 5, 18))


def test_29_february_is_celebrated_on_28_february_in_common_years() -> None:
    leap = date(2000, 2, 29)

    assert birthday_in(leap, 2027) == date(2027, 2, 28)
    assert birthday_in(leap, 2028) == date(2028, 2, 29)
    assert birthday_bonus_due(leap, None, date(2027, 2, 28))
    assert not birthday_bonus_due(leap, None, date(2027, 3, 1))
    assert not birthday_bonus_due(leap, None, date(2028, 2, 28))
    assert birthday_bonus_due(leap, None, date(2028, 2, 29))


def test_a_birthday_changed_less_than_30_days_before_earns_nothing_that_year() -> None:
    birthday = date(1990, 5, 17)

    assert not birthday_bonus_due(birthday, date(2026, 4, 18), date(2026, 5, 17))  # 29 days
    assert birthday_bonus_due(birthday, date(2026, 4, 17), date(2026, 5, 17))  # 30 days
    assert birthday_bonus_due(birthday, date(2026, 4, 18), date(2027, 5, 17))  # next year


def test_catch_up_grants_a_birthday_missed_by_a_few_days() -> None:
    birthday = date(1990, 5, 17)

    assert birthday_bonus_due(birthday, None, date(2026, 5, 19), catch_up_days=3)
    assert not birthday_bonus_due(birthday, None, date(2026, 5, 21), catch_up_days=3)


def test_catch_up_across_new_year() -> None:
    assert birthday_bonus_due(date(1990, 12, 31), None, date(2027, 1, 1), catch_up_days=2)
