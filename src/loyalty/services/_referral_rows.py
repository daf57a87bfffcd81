"""Referral rows <-> domain ``Referral`` values, and how a referral is shown to callers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from loyalty.domain.referrals import FraudFinding, FraudReason, Referral, ReferralStatus


def to_domain(row: Mapping[Any, Any]) -> Referral:
    return Referral(
        referrer_id=str(row["referrer_id"]),
        referee_id=str(row["referee_id"]),
        code=row["code"],
        attributed_at=row["attributed_at"],
        status=ReferralStatus(row["status"]),
        reason=row["reason"],
        findings=tuple(
            FraudFinding(FraudReason(item["reason"]), item["detail"]) for item in row["findings"]
        ),
        first_order_id=row["first_order_id"],
        first_order_at=row["first_order_at"],
        qualifies_at=row["qualifies_at"],
        welcome_code=row["welcome_code"],
        welcome_cancelled=bool(row["welcome_cancelled"]),
        referrer_points=row["referrer_points"],
        qualified_at=row["qualified_at"],
        rewarded_at=row["rewarded_at"],
        closed_at=row["closed_at"],
    )


def changed_values(referral: Referral, now: datetime) -> dict[str, Any]:
    """The columns a lifecycle step may change."""
    return {
        "status": referral.status.value,
        "reason": referral.reason,
        "first_order_id": referral.first_order_id,
        "first_order_at": referral.first_order_at,
        "qualifies_at": referral.qualifies_at,
        "qualified_at": referral.qualified_at,
        "welcome_code": referral.welcome_code,
        "welcome_cancelled": referral.welcome_cancelled,
        "referrer_points": referral.referrer_points,
        "rewarded_at": referral.rewarded_at,
        "closed_at": referral.closed_at,
        "updated_at": now,
    }


def new_values(referral: Referral, source: str, now: datetime) -> dict[str, Any]:
    return {
        "referrer_id": int(referral.referrer_id),
        "referee_id": int(referral.referee_id),
        "code": referral.code,
        "source": source,
        "attributed_at": referral.attributed_at,
        "findings": [{"reason": f.reason.value, "detail": f.detail} for f in referral.findings],
        **changed_values(referral, now),
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def referral_view(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "code": row["code"],
        "referrer": row["referrer_external_id"],
        "referee": row["referee_external_id"],
        "source": row["source"],
        "status": row["status"],
        "reason": row["reason"],
        "findings": list(row["findings"]),
        "attributed_at": _iso(row["attributed_at"]),
        "first_order_id": row["first_order_id"],
        "first_order_at": _iso(row["first_order_at"]),
        "qualifies_at": _iso(row["qualifies_at"]),
        "qualified_at": _iso(row["qualified_at"]),
        "welcome_coupon": None
        if row["welcome_code"] is None
        else {
            "code": row["welcome_code"],
            "status": "cancelled" if row["welcome_cancelled"] else "issued",
        },
        "referrer_points": row["referrer_points"],
        "rewarded_at": _iso(row["rewarded_at"]),
        "closed_at": _iso(row["closed_at"]),
    }
