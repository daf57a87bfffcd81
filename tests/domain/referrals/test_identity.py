"""Normalised contact data: one person's two spellings compare equal, two people's do not."""

from __future__ import annotations

import pytest

from loyalty.domain.referrals import Address, EmailRules, address_key, mailbox, phone_key


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("Anna.Nowak+shop@Gmail.com", "annanowak@gmail.com"),
        ("a.n.n.a.nowak@googlemail.com", "annanowak@gmail.com"),
        ("anna+promo@outlook.com", "anna@outlook.com"),
        ("anna.nowak+x@example.com", "anna.nowak+x@example.com"),  # unknown provider: as given
        ("  ANNA@example.com ", "anna@example.com"),
    ],
)
def test_mailbox_drops_dots_and_plus_tags_only_where_the_provider_does(
    email: str, expected: str
) -> None:
    assert mailbox(email) == expected


def test_mailbox_of_no_address_or_a_broken_one_is_none() -> None:
    assert mailbox(None) is None
    assert mailbox("") is None
    assert mailbox("not-an-email") is None
    assert mailbox("+tag@gmail.com") is None  # nothing left of the local part


def test_mailbox_rules_are_configurable() -> None:
    rules = EmailRules(dotless_domains=frozenset({"corp.example"}), plus_alias_domains=frozenset())

    assert mailbox("a.b+c@corp.example", rules) == "ab+c@corp.example"
    assert mailbox("a.b+c@gmail.com", rules) == "a.b+c@gmail.com"


def test_phone_key_matches_international_and_local_spellings() -> None:
    keys = {phone_key(p, 9) for p in ("+48 600 100 200", "0048600100200", "600-100-200")}

    assert keys == {"600100200"}


def test_phone_key_of_a_short_or_broken_number_is_none() -> None:
    assert phone_key("12345", 9) is None
    assert phone_key("1234567", 9) is None
    assert phone_key("call me", 9) is None
    assert phone_key(None, 9) is None


def test_address_key_ignores_case_accents_punctuation_and_street_words() -> None:
    one = Address("Ulica Łąkowa 5/3", city="Kraków", postal_code="30-001", country="PL")
    two = Address("ul. lakowa 5 3", city="KRAKOW", postal_code="30001", country="pl")

    assert address_key(one) == address_key(two)


def test_address_key_tells_different_flats_apart() -> None:
    one = Address("12 High Street", "Flat 1", postal_code="SW1A 1AA", country="GB")
    two = Address("12 High St", "Apartment 2", postal_code="SW1A1AA", country="GB")

    assert address_key(one) != address_key(two)


def test_address_key_uses_the_city_without_a_postal_code() -> None:
    assert address_key(Address("Main Road 1", city="Cluj")) == "|cluj|main rd 1"


def test_address_without_a_street_has_no_key() -> None:
    assert address_key(Address("  ", city="Berlin")) is None
