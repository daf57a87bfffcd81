"""An earning rule: versioned data a marketer edits, never code.

A rule is immutable. Editing one makes a new version (``revised``); ledger entries keep the
rule id and the version that earned them, so "why did I get these points?" always has an
answer, and limits and budgets keep counting per rule id across versions.

Stacking fields: rules run in ``priority`` order (lower first; ties by id). A rule with
``stop_processing`` that applies stops the rules after it; an ``exclusive`` rule that applies
is the only rule that earns on the event (rules before it that applied are dropped too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from loyalty.domain.errors import InvalidRule
from loyalty.domain.rules._fields import Fields, at
from loyalty.domain.rules.conditions import Condition, compile_condition
from loyalty.domain.rules.effects import Effect, PointsPerCurrency, effect_from_dict, needs_order
from loyalty.domain.rules.limits import Limits
from loyalty.domain.rules.schedule import Schedule
from loyalty.domain.rules.triggers import ORDER_PAID, TRIGGERS, is_trigger

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


@dataclass(frozen=True, slots=True)
class EarningRule:
    id: str
    version: int
    name: str
    trigger: str
    effect: Effect
    condition: str = ""  # CEL; empty: always
    limits: Limits = field(default_factory=Limits)
    schedule: Schedule = field(default_factory=Schedule)
    priority: int = 100
    exclusive: bool = False
    stop_processing: bool = False
    active: bool = True

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise InvalidRule("must be 1-64 letters, digits or _ . : -", field="id")
        if self.version < 1:
            raise InvalidRule("must be at least 1", field="version")
        if not self.name.strip():
            raise InvalidRule("must not be blank", field="name")
        if not is_trigger(self.trigger):
            known = ", ".join(TRIGGERS)
            raise InvalidRule(
                f"'{self.trigger}' is not a trigger; use one of {known} or custom.<name>",
                field="trigger",
            )
        if needs_order(self.effect) and self.trigger != ORDER_PAID:
            raise InvalidRule(
                f"effect '{self.effect.kind}' needs an order; this rule runs on {self.trigger}",
                field="effect.kind",
            )
        compile_condition(self.condition, self.trigger)  # refuses bad text; cached for later

    @property
    def compiled_condition(self) -> Condition:
        return compile_condition(self.condition, self.trigger)

    def revised(self, **changes: Any) -> EarningRule:
        """The next version of this rule with ``changes``."""
        return replace(self, version=self.version + 1, **changes)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "version": self.version,
            "name": self.name,
            "trigger": self.trigger,
            "condition": self.condition,
            "effect": self.effect.to_dict(),
            "limits": self.limits.to_dict(),
            "schedule": self.schedule.to_dict(),
            "priority": self.priority,
            "exclusive": self.exclusive,
            "stop_processing": self.stop_processing,
            "active": self.active,
        }

    @classmethod
    def from_dict(cls, data: object) -> EarningRule:
        """Read a rule; ``InvalidRule.field`` is the path of the bad value (``effect.rate``)."""
        fields = Fields(data)
        with at("effect"):
            effect = effect_from_dict(fields.get("effect"))
        with at("limits"):
            limits = Limits.from_dict(fields.get("limits"))
        with at("schedule"):
            schedule = Schedule.from_dict(fields.get("schedule"))
        condition = fields.get("condition")
        if condition is not None and not isinstance(condition, str):
            raise InvalidRule("must be a string", field="condition")
        rule = cls(
            id=fields.text("id"),
            version=fields.integer("version", 1),
            name=fields.text("name"),
            trigger=fields.text("trigger"),
            effect=effect,
            condition=condition or "",
            limits=limits,
            schedule=schedule,
            priority=fields.integer("priority", 100),
            exclusive=fields.boolean("exclusive", False),
            stop_processing=fields.boolean("stop_processing", False),
            active=fields.boolean("active", True),
        )
        fields.done()
        return rule


def base_earning_rule(rule_id: str = "base", name: str = "Points on every order") -> EarningRule:
    """The programme's plain earning as a rule: its ``points_per_unit`` on the whole base."""
    return EarningRule(rule_id, 1, name, ORDER_PAID, PointsPerCurrency(), priority=0)
