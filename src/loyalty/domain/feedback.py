"""Surveys and their scores: NPS (0-10), CSAT (1-5) and custom scales.

NPS = % promoters (9-10) - % detractors (0-6), from -100 to 100. CSAT = % of answers that are
4 or 5. Every kind also reports the count and the average score.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from loyalty.domain.errors import ScoreOutOfRange, ValidationFailed


class SurveyKind(StrEnum):
    NPS = "nps"
    CSAT = "csat"
    CUSTOM = "custom"


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


FIXED_SCALES = {SurveyKind.NPS: (0, 10), SurveyKind.CSAT: (1, 5)}
CUSTOM_LIMITS = (-1000, 1000)


def scale_for(kind: SurveyKind, low: int | None, high: int | None) -> tuple[int, int]:
    """The score range of a survey: fixed for NPS and CSAT, chosen for a custom one."""
    if kind in FIXED_SCALES:
        if low is not None or high is not None:
            raise ValidationFailed(f"a {kind} survey has a fixed scale", field="min_score")
        return FIXED_SCALES[kind]
    low, high = (0, 10) if low is None and high is None else (low, high)
    if low is None or high is None or not CUSTOM_LIMITS[0] <= low < high <= CUSTOM_LIMITS[1]:
        raise ValidationFailed(
            "a custom scale needs min_score < max_score, both within -1000..1000",
            field="min_score",
        )
    return low, high


def check_score(score: int, low: int, high: int) -> int:
    if not low <= score <= high:
        raise ScoreOutOfRange(f"score must be from {low} to {high}", field="score", score=score)
    return score


PROMOTER_MIN = 9  # 9-10: promoters
PASSIVE_MIN = 7  # 7-8: passives; 0-6: detractors


def nps_category(score: int) -> str:
    if score >= PROMOTER_MIN:
        return "promoter"
    return "passive" if score >= PASSIVE_MIN else "detractor"


def nps(promoters: int, detractors: int, responses: int) -> float | None:
    """NPS = % promoters - % detractors, rounded to 1 decimal; None without responses."""
    if responses <= 0:
        return None
    return round(_percent(promoters, responses) - _percent(detractors, responses), 1)


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    responses: int
    average: float | None
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    nps: float | None = None
    satisfied: int = 0
    csat: float | None = None

    def to_dict(self, kind: SurveyKind) -> dict[str, Any]:
        view: dict[str, Any] = {"responses": self.responses, "average": self.average}
        if kind is SurveyKind.NPS:
            view |= {
                "promoters": self.promoters,
                "passives": self.passives,
                "detractors": self.detractors,
                "nps": self.nps,
            }
        elif kind is SurveyKind.CSAT:
            view |= {"satisfied": self.satisfied, "csat": self.csat}
        return view


def _percent(part: int, whole: int) -> float:
    return 100 * part / whole


def summarise(scores: Iterable[int], kind: SurveyKind) -> ScoreSummary:
    """Counts, average (2 decimals) and the kind's headline figure (1 decimal); None when
    there are no responses."""
    values = list(scores)
    n = len(values)
    if n == 0:
        return ScoreSummary(0, None)
    average = round(sum(values) / n, 2)
    if kind is SurveyKind.NPS:
        promoters = sum(1 for s in values if s >= PROMOTER_MIN)
        detractors = sum(1 for s in values if s < PASSIVE_MIN)
        score = nps(promoters, detractors, n)
        return ScoreSummary(n, average, promoters, n - promoters - detractors, detractors, score)
    if kind is SurveyKind.CSAT:
        satisfied = sum(1 for s in values if s >= 4)
        return ScoreSummary(n, average, satisfied=satisfied, csat=round(_percent(satisfied, n), 1))
    return ScoreSummary(n, average)


def period_start(day: date, granularity: Granularity) -> date:
    """The first day of the period ``day`` falls in (weeks start on Monday)."""
    if granularity is Granularity.DAY:
        return day
    if granularity is Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    if granularity is Granularity.MONTH:
        return day.replace(day=1)
    if granularity is Granularity.QUARTER:
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def period_label(start: date, granularity: Granularity) -> str:
    if granularity is Granularity.MONTH:
        return start.strftime("%Y-%m")
    if granularity is Granularity.QUARTER:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if granularity is Granularity.YEAR:
        return str(start.year)
    if granularity is Granularity.WEEK:
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return start.isoformat()
