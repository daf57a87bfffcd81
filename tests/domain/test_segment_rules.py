"""Segment rules: CEL compiled once, errors with line and column, unknown fields refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from loyalty.domain.errors import InvalidSegmentRule, UnknownSegmentField, ValidationFailed
from loyalty.domain.segments._lexer import bound_names, member_references
from loyalty.domain.segments.fields import FIELDS, rule_values
from loyalty.domain.segments.keys import builtin_key, check_key, slug
from loyalty.domain.segments.rules import RuleEvaluationError, compile_rule

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_a_rule_reads_only_the_fields_it_names() -> None:
    rule = compile_rule('member.rfm_segment == "At Risk" && member.favourite_category == "cats"')
    assert rule.fields == {"rfm_segment", "favourite_category"}
    assert rule.matches({"rfm_segment": "At Risk", "favourite_category": "cats"}, NOW) is True
    assert rule.matches({"rfm_segment": "At Risk", "favourite_category": "dogs"}, NOW) is False


def test_compiled_rules_are_cached_by_text() -> None:
    assert compile_rule("member.orders > 1") is compile_rule("  member.orders > 1\n")


def test_a_syntax_error_names_line_and_column() -> None:
    with pytest.raises(InvalidSegmentRule) as caught:
        compile_rule('member.orders > 1 &&\n  member.locale == "pl" ||')
    assert caught.value.data["line"] == 2
    assert caught.value.data["column"] == 27  # just after the 26 characters of line 2
    assert "line 2, column 27" in caught.value.detail
    assert caught.value.field == "rule"


def test_an_unknown_field_is_named_with_its_position() -> None:
    with pytest.raises(UnknownSegmentField) as caught:
        compile_rule('member.orders > 1 &&\n member.favourit == "cats"')
    assert caught.value.data == {"unknown": "member.favourit", "line": 2, "column": 9}
    assert "favourite_category" in caught.value.detail  # the known fields are listed


def test_an_unknown_field_in_brackets_or_has_is_refused_too() -> None:
    for source in ('member["nope"] == 1', "has(member.nope)"):
        with pytest.raises(UnknownSegmentField, match=r"member\.nope"):
            compile_rule(source)


def test_an_unknown_variable_is_refused_but_comprehension_names_are_fine() -> None:
    with pytest.raises(UnknownSegmentField) as caught:
        compile_rule("customer.orders > 1")
    assert caught.value.data["unknown"] == "customer"
    rule = compile_rule('["pets", "cats"].exists(c, c == member.favourite_category)')
    assert rule.matches({"favourite_category": "cats"}, NOW) is True


def test_a_field_name_inside_a_string_is_not_a_reference() -> None:
    rule = compile_rule('member.status == "member.nope"')
    assert rule.fields == {"status"}


def test_type_errors_and_non_boolean_rules_are_refused_when_saved() -> None:
    with pytest.raises(InvalidSegmentRule, match="type error"):
        compile_rule('member.spend + "x" == "y"')
    with pytest.raises(InvalidSegmentRule, match="gives double"):
        compile_rule("member.spend")
    with pytest.raises(InvalidSegmentRule, match="empty"):
        compile_rule("   ")
    with pytest.raises(InvalidSegmentRule, match="longer"):
        compile_rule("member.orders > 1 && " * 300 + "true")


def test_a_rule_undecidable_for_one_member_raises_for_that_member() -> None:
    # given a member with no orders yet: no days since the last one
    rule = compile_rule("member.days_since_last_order > 30")
    with pytest.raises(RuleEvaluationError):
        rule.matches({"days_since_last_order": None}, NOW)
    assert (
        compile_rule('"cats" in member.category_shares').matches({"category_shares": {}}, NOW)
        is False
    )


def test_now_is_available_to_rules() -> None:
    rule = compile_rule("member.birthday_month == now.getMonth() + 1")
    assert rule.matches({"birthday_month": 3}, NOW) is True


def _row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {name: None for name in FIELDS}
    row.update(
        email="Ann@Example.COM",
        birthday=date(1990, 7, 14),
        created_at=datetime(2025, 5, 1, 9, tzinfo=UTC),
        available=120,
        lifetime_earned=900,
    )
    return row | overrides


def test_rule_values_derive_member_fields_and_default_a_missing_profile() -> None:
    values = rule_values(_row(), FIELDS)
    assert values["email_domain"] == "example.com"
    assert values["birthday_month"] == 7
    assert values["joined_at"] == "2025-05-01"
    assert (values["available_points"], values["lifetime_points"]) == (120, 900)
    assert (values["orders"], values["spend"], values["category_shares"]) == (0, 0.0, {})
    assert values["days_since_last_order"] is None


def test_rule_values_convert_money_and_dates() -> None:
    row = _row(orders=2, spend=Decimal("10.50"), last_order_at=date(2026, 2, 1), email=None)
    values = rule_values(row, ["orders", "spend", "last_order_at", "email_domain"])
    assert values == {
        "orders": 2,
        "spend": 10.5,
        "last_order_at": "2026-02-01",
        "email_domain": None,
    }


def test_lexer_finds_references_and_bound_names() -> None:
    refs, dynamic = member_references('member.a == 1 // member.b\n && x.member.c && member["d"]')
    assert [(r.field, r.line, r.column) for r in refs] == [("a", 1, 8), ("d", 2, 26)]
    assert dynamic is False
    assert member_references("size(member) > 0")[1] is True
    assert bound_names("[1].all(x, x > 0) && [2].map(y, y)") == {"x", "y"}


def test_segment_keys() -> None:
    assert check_key("cat-lovers_2") == "cat-lovers_2"
    for bad in ("", "Cats", "rfm:champions", "refresh", "x" * 65):
        with pytest.raises(ValidationFailed):
            check_key(bad)
    assert slug("Can't Lose") == "cant_lose"
    assert builtin_key("rfm", "At Risk") == "rfm:at_risk"
