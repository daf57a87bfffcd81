"""Promotions and checkout cart evaluation: pure, deterministic, no clock (``now`` is passed in).

Start at ``evaluate_cart``; ``Promotion.from_dict`` reads stored promotion data.
"""

from loyalty.domain.promotions.allocation import allocate
from loyalty.domain.promotions.benefits import (
    AmountOff,
    Benefit,
    BuyXGetY,
    FixedPrice,
    FreeGift,
    FreeShipping,
    PercentOff,
    Target,
    benefit_from_dict,
)
from loyalty.domain.promotions.cart import Cart, CartLine, MemberFacts, normalize_code
from loyalty.domain.promotions.conditions import Conditions
from loyalty.domain.promotions.engine import evaluate_cart
from loyalty.domain.promotions.expressions import CelCheck
from loyalty.domain.promotions.limits import PromotionHolds, PromotionLimits
from loyalty.domain.promotions.payment import (
    PointsPaymentPolicy,
    PointsPaymentQuote,
    check_points_payment,
    points_value,
    quote_points_payment,
)
from loyalty.domain.promotions.prepared import PromotionSet
from loyalty.domain.promotions.promotion import Promotion, Trigger
from loyalty.domain.promotions.reasons import (
    InvalidPromotion,
    PointsOverLimit,
    Refusal,
    RejectReason,
)
from loyalty.domain.promotions.results import (
    AppliedPromotion,
    CartEvaluation,
    GiftLine,
    LineDiscount,
    PricedLine,
    RejectedPromotion,
)
from loyalty.domain.promotions.usage import UsageFacts

__all__ = [
    "AmountOff",
    "AppliedPromotion",
    "Benefit",
    "BuyXGetY",
    "Cart",
    "CartEvaluation",
    "CartLine",
    "CelCheck",
    "Conditions",
    "FixedPrice",
    "FreeGift",
    "FreeShipping",
    "GiftLine",
    "InvalidPromotion",
    "LineDiscount",
    "MemberFacts",
    "PercentOff",
    "PointsOverLimit",
    "PointsPaymentPolicy",
    "PointsPaymentQuote",
    "PricedLine",
    "Promotion",
    "PromotionHolds",
    "PromotionLimits",
    "PromotionSet",
    "Refusal",
    "RejectReason",
    "RejectedPromotion",
    "Target",
    "Trigger",
    "UsageFacts",
    "allocate",
    "benefit_from_dict",
    "check_points_payment",
    "evaluate_cart",
    "normalize_code",
    "points_value",
    "quote_points_payment",
]
