"""Referral codes and links, welcome coupon codes."""

from __future__ import annotations

import random
import re

import pytest

from loyalty.domain.referrals import (
    ALPHABET,
    name_prefix,
    new_referral_code,
    new_welcome_code,
    normalise_code,
    referral_link,
)


def test_referral_code_starts_with_the_first_name() -> None:
    code = new_referral_code(random.Random(1), name="Anna Maria")

    assert re.fullmatch(f"ANNA-[{ALPHABET}]{{6}}", code)


def test_referral_code_without_a_name_is_only_random() -> None:
    assert re.fullmatch(f"[{ALPHABET}]{{6}}", new_referral_code(random.Random(1), name=" "))


@pytest.mark.parametrize(
    ("name", "prefix"),
    [("Zoë", "ZOE"), ("Łukasz", "LUKASZ"), ("Юлия", "YULIYA"), ("Maximilianus", "MAXIMILI")],
)
def test_name_prefix_is_plain_latin(name: str, prefix: str) -> None:
    assert name_prefix(name) == prefix


def test_referral_code_length_is_bounded() -> None:
    with pytest.raises(ValueError, match="length"):
        new_referral_code(random.Random(1), length=3)


def test_welcome_codes_are_long_grouped_and_distinct() -> None:
    source = random.Random(7)
    codes = {new_welcome_code(source) for _ in range(1000)}

    assert len(codes) == 1000
    assert all(re.fullmatch(f"WELCOME(-[{ALPHABET}]{{4}}){{4}}", code) for code in codes)


def test_codes_compare_case_insensitively() -> None:
    assert normalise_code("  anna-7k3pqx ") == "ANNA-7K3PQX"


def test_referral_link_keeps_the_existing_query() -> None:
    assert referral_link("https://shop.example/join?lang=pl", "ANNA-7K") == (
        "https://shop.example/join?lang=pl&ref=ANNA-7K"
    )
    assert referral_link("https://shop.example", "X Y", "invite") == (
        "https://shop.example/?invite=X+Y"
    )
