"""What a segment rule can read about a member: ``member.<field>``.

Dates are ISO strings (``"2026-03-01"``) so they compare with string literals; money is a
double in the programme's currency. A field without a value (no orders yet, no birthday) is
``null``; a comparison with ``null`` is an error for that member, who is then not in the segment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str  # CEL type: string, int, double, map(string, double)
    description: str
    sample: Any  # a typical value, used to catch type errors when a rule is saved


_FIELDS = (
    Field("external_id", "string", "the member's id in the shop", "c-1"),
    Field("status", "string", "active or blocked", "active"),
    Field("locale", "string", "language tag, e.g. pl-PL", "pl-PL"),
    Field("email_domain", "string", "the part of the e-mail address after @", "example.com"),
    Field("birthday_month", "int", "1-12", 5),
    Field("joined_at", "string", "ISO date the member joined", "2026-01-01"),
    Field("available_points", "int", "points that can be spent now", 100),
    Field("lifetime_points", "int", "points earned over the membership", 1000),
    Field("orders", "int", "paid orders, not cancelled", 3),
    Field("purchase_days", "int", "distinct days with an order", 2),
    Field("spend", "double", "net spend after refunds", 250.0),
    Field("aov", "double", "average order value", 83.33),
    Field("first_order_at", "string", "ISO date of the first order", "2025-06-01"),
    Field("last_order_at", "string", "ISO date of the last order", "2026-02-01"),
    Field("days_since_last_order", "int", "days between the last order and the refresh", 30),
    Field("favourite_category", "string", "category with the largest share of spend", "pets"),
    Field("category_shares", "map(string, double)", "share of spend per category", {"pets": 1.0}),
    Field("rfm_recency", "int", "RFM recency score 1-5", 3),
    Field("rfm_frequency", "int", "RFM frequency score 1-5", 3),
    Field("rfm_monetary", "int", "RFM monetary score 1-5", 3),
    Field("rfm_segment", "string", "named RFM segment, e.g. At Risk", "Loyal"),
    Field("lifecycle_stage", "string", "new, active, at_risk, lapsed or won_back", "active"),
    Field("predicted_orders_12m", "double", "expected orders in the next 12 months", 1.5),
    Field("predicted_clv_12m", "double", "expected spend in the next 12 months", 120.0),
    Field("probability_alive", "double", "probability the member still buys", 0.8),
)

FIELDS: dict[str, Field] = {field.name: field for field in _FIELDS}
PROFILE_FIELDS = frozenset(FIELDS) - {
    "external_id",
    "status",
    "locale",
    "email_domain",
    "birthday_month",
    "joined_at",
    "available_points",
    "lifetime_points",
}


def sample_member() -> dict[str, Any]:
    return {field.name: field.sample for field in _FIELDS}


def rule_values(row: Mapping[Any, Any], names: Iterable[str]) -> dict[str, Any]:
    """The ``member`` a rule sees, built from a member row joined with its profile (whose
    columns are None when the member has no orders yet). Only ``names`` are computed."""
    return {name: _value(row, name) for name in names}


def _value(row: Mapping[Any, Any], name: str) -> Any:
    if name in _DERIVED:
        return _DERIVED[name](row)
    if name in _NO_ORDERS_YET and row["orders"] is None:
        return _NO_ORDERS_YET[name]
    value = row[name]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _email_domain(row: Mapping[Any, Any]) -> str | None:
    email = row["email"]
    return email.rsplit("@", 1)[1].lower() if email and "@" in email else None


_DERIVED: dict[str, Callable[[Mapping[Any, Any]], Any]] = {
    "email_domain": _email_domain,
    "birthday_month": lambda row: row["birthday"].month if row["birthday"] else None,
    "joined_at": lambda row: row["created_at"].date().isoformat(),
    "available_points": lambda row: row["available"],
    "lifetime_points": lambda row: row["lifetime_earned"],
}
_NO_ORDERS_YET: dict[str, Any] = {
    "orders": 0,
    "purchase_days": 0,
    "spend": 0.0,
    "aov": 0.0,
    "category_shares": {},
}


_SOURCES: dict[str, tuple[str, ...]] = {
    "email_domain": ("email",),
    "birthday_month": ("birthday",),
    "joined_at": ("created_at",),
    "available_points": ("available",),
    "lifetime_points": ("lifetime_earned",),
}


def source_columns(names: Iterable[str]) -> frozenset[str]:
    """The member and profile columns ``rule_values`` needs for these fields."""
    columns: set[str] = {"external_id"}
    for name in names:
        columns.update(_SOURCES.get(name, (name,)))
        if name in _NO_ORDERS_YET:
            columns.add("orders")
    return frozenset(columns)
