"""Coupon codes: unambiguous alphabet, >= 60 bits, patterns with prefixes, unique in bulk."""

from __future__ import annotations

import math
import random
import re
import secrets
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.domain.errors import ErrorCode
from loyalty.domain.rewards import (
    ALPHABET,
    DEFAULT_PATTERN,
    MIN_ENTROPY_BITS,
    CodePattern,
    CodeSpaceExhausted,
    InvalidCodePattern,
    generate_code,
    generate_codes,
)


class _Stuck:
    """A broken random source: always the same character."""

    def choice(self, seq: Sequence[str], /) -> str:
        return seq[0]


def test_the_alphabet_has_32_symbols_and_no_ambiguous_ones() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 32
    assert not set(ALPHABET) & set("0O1I")
    assert set(ALPHABET) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def test_the_default_code_is_three_groups_of_four_worth_60_bits() -> None:
    code = generate_code(secrets)

    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}", code)
    assert DEFAULT_PATTERN.entropy_bits == MIN_ENTROPY_BITS == 60
    assert DEFAULT_PATTERN.entropy_bits == DEFAULT_PATTERN.random_positions * math.log2(32)


def test_a_pattern_keeps_its_literals_and_fills_each_hash() -> None:
    pattern = CodePattern("SPRING-####-####-####")

    code = generate_code(random.Random(7), pattern)

    assert code.startswith("SPRING-")
    assert len(code) == len(pattern.text)
    assert [c for c, p in zip(code, pattern.text, strict=True) if p != "#"] == list("SPRING---")
    assert all(c in ALPHABET for c, p in zip(code, pattern.text, strict=True) if p == "#")


def test_a_prefix_builds_the_default_groups_after_it() -> None:
    assert CodePattern.with_prefix("spring ").text == "SPRING-####-####-####"
    assert CodePattern.with_prefix(None).text == "####-####-####"
    assert CodePattern.with_prefix("VIP", groups=4).entropy_bits == 80


def test_a_prefix_may_use_any_letters_the_merchant_wants() -> None:
    code = generate_code(secrets, CodePattern("WINTER10-############"))

    assert code.startswith("WINTER10-")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SPRING-####-####", "40 bits"),
        ("###########", "add 1 more"),
        ("", "required"),
        ("spring-############", "only A-Z"),
        ("SPRING ############", "only A-Z"),
        ("#" * 65, "at most 64"),
    ],
)
def test_weak_or_malformed_patterns_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidCodePattern, match=message) as caught:
        CodePattern(text)

    assert caught.value.field == "pattern"
    assert caught.value.code is ErrorCode.VALIDATION_FAILED
    assert caught.value.data["reason"] == "invalid_code_pattern"


def test_bulk_codes_are_unique_and_skip_the_codes_already_taken() -> None:
    # given a source seeded to give a known first code
    first = generate_code(random.Random(1))

    # when
    codes = generate_codes(500, random.Random(1), taken={first})

    # then
    assert len(codes) == len(set(codes)) == 500
    assert first not in codes


def test_zero_codes_is_an_empty_list() -> None:
    assert generate_codes(0, secrets) == []


def test_a_broken_random_source_fails_instead_of_looping() -> None:
    with pytest.raises(CodeSpaceExhausted) as caught:
        generate_codes(3, _Stuck())

    assert caught.value.data["reason"] == "code_space_exhausted"


def test_codes_from_secrets_differ_run_to_run() -> None:
    assert len(set(generate_codes(50, secrets))) == 50


# a literal prefix (ambiguous characters allowed there, they are not random) and 12+ slots
_PATTERNS = st.builds(
    lambda prefix, groups: prefix + "-".join("#" * size for size in groups),
    st.text(alphabet="ABZ79-_", max_size=6),
    st.lists(st.integers(min_value=3, max_value=6), min_size=4, max_size=5),
)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    count=st.integers(min_value=1, max_value=200),
    pattern=_PATTERNS,
)
def test_generated_codes_never_collide_and_never_use_ambiguous_characters(
    seed: int, count: int, pattern: str
) -> None:
    codes = generate_codes(count, random.Random(seed), CodePattern(pattern))

    assert len(set(codes)) == count
    for code in codes:
        assert len(code) == len(pattern)
        for char, slot in zip(code, pattern, strict=True):
            assert char in ALPHABET if slot == "#" else char == slot
        assert not set(code) & set("0O1I")
