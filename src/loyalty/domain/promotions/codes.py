"""Which promotions the codes entered at checkout bring in.

A code matches a code promotion's own ``codes`` or an issued coupon the caller resolved
(code -> promotion id). Codes compare case-insensitively; the same code twice counts once;
a second code for a promotion already brought in is refused as a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from loyalty.domain.promotions.cart import normalize_code
from loyalty.domain.promotions.promotion import Promotion, Trigger
from loyalty.domain.promotions.reasons import RejectReason
from loyalty.domain.promotions.results import RejectedPromotion


@dataclass(frozen=True, slots=True)
class EnteredCodes:
    by_promotion: dict[str, str] = field(default_factory=dict)  # promotion id -> its code
    rejected: list[RejectedPromotion] = field(default_factory=list)


def resolve_codes(
    codes: Sequence[str],
    promotions: Mapping[str, Promotion],
    coupons: Mapping[str, str],
    own_codes: Mapping[str, Promotion] | None = None,
) -> EnteredCodes:
    """``promotions`` by id; ``coupons``: issued codes -> promotion id. ``own_codes``: the
    code promotions' own codes, normalised, when the caller prepared them (``PromotionSet``)."""
    known = _codes_index(promotions, coupons, own_codes)
    entered = EnteredCodes()
    for code in dict.fromkeys(normalize_code(code) for code in codes):
        promotion = known.get(code)
        if promotion is None:
            entered.rejected.append(_refused(None, code, RejectReason.UNKNOWN_CODE, "is not valid"))
        elif promotion.id in entered.by_promotion:
            first = entered.by_promotion[promotion.id]
            message = f"is for the same promotion as '{first}'"
            entered.rejected.append(_refused(promotion, code, RejectReason.DUPLICATE_CODE, message))
        else:
            entered.by_promotion[promotion.id] = code
    return entered


def _codes_index(
    promotions: Mapping[str, Promotion],
    coupons: Mapping[str, str],
    own_codes: Mapping[str, Promotion] | None,
) -> Mapping[str, Promotion]:
    if own_codes is not None and not coupons:
        return own_codes
    known = (
        dict(own_codes)
        if own_codes is not None
        else {
            normalize_code(code): promotion
            for promotion in promotions.values()
            if promotion.trigger is Trigger.CODE
            for code in promotion.codes
        }
    )
    for code, promotion_id in coupons.items():
        if promotion_id in promotions:
            known[normalize_code(code)] = promotions[promotion_id]
    return known


def _refused(
    promotion: Promotion | None, code: str, reason: RejectReason, what: str
) -> RejectedPromotion:
    return RejectedPromotion(
        promotion.id if promotion else None,
        promotion.version if promotion else None,
        promotion.name if promotion else None,
        code,
        reason,
        f"code '{code}' {what}",
    )
