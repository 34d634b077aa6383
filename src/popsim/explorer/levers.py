"""The regime's main levers as controls, read from the scenario schema.

Each control takes its range, unit and one-line meaning from the schema field it sets
(:func:`popsim.scenario.schema.lever`), so a control can never offer a value the schema
refuses, and its label says what the field says. Only the choice of fields is made here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from popsim.scenario.demography import Scenario

#: the fields shown, by dotted path, with a short title; in the order they are shown
SHOWN: dict[str, str] = {
    "policy.checkups.interval_months": "Check-up interval",
    "policy.checkups.participation": "Check-up participation",
    "policy.checkups.remedial": "Remedial measure",
    "policy.incentives.scale": "Incentives scale",
    "policy.fee.multiple": "Fee multiple",
    "policy.fee.collection": "Fee collection",
    "policy.sex_selection.crackdown": "Sex-selection crackdown",
    "policy.contraception.larc": "LARC campaign",
    "policy.rules.regime": "Birth rule",
}
RULE = "policy.rules.regime"  #: the lever whose change can be dated (:attr:`Settings.rule_from`)
#: a float slider has this many steps: 0.001 for a probability, whose defaults have 3 decimals
POSITIONS = 1000


@dataclass(frozen=True)
class Lever:
    """One control: what it sets, how it is drawn, and what the schema says of it."""

    path: str
    title: str
    kind: Literal["int", "float", "choice", "switch"]
    unit: str
    meaning: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The title with its unit, e.g. ``Check-up interval (months)``."""
        return self.title if self.kind in ("choice", "switch") else f"{self.title} ({self.unit})"

    @property
    def slug(self) -> str:
        """A name for the page's elements (``policy-checkups-interval_months``)."""
        return self.path.replace(".", "-")


def field_at(path: str) -> FieldInfo:
    """The schema field at a dotted path."""
    model: type[BaseModel] = Scenario
    *sections, name = path.split(".")
    for part in sections:
        model = model.model_fields[part].annotation
    return model.model_fields[name]


def _bound(field: FieldInfo, *names: str) -> float | None:
    for item in field.metadata:
        for name in names:
            value = getattr(item, name, None)
            if value is not None:
                return value
    return None


def lever(path: str, title: str) -> Lever:
    """The control of the schema field at ``path``."""
    field = field_at(path)
    extra: dict[str, Any] = field.json_schema_extra or {}
    unit, source = extra["unit"], extra["source"]
    meaning = (field.description or "").removesuffix(f" [{unit}] {source}")
    annotation = field.annotation
    if annotation is bool:
        return Lever(path, title, "switch", unit, meaning)
    if annotation is int or annotation is float:
        low, high = _bound(field, "ge", "gt"), _bound(field, "le", "lt")
        if annotation is int:
            return Lever(path, title, "int", unit, meaning, low, high, 1)
        return Lever(path, title, "float", unit, meaning, low, high, (high - low) / POSITIONS)
    choices = get_args(annotation)
    if choices:
        return Lever(path, title, "choice", unit, meaning, choices=tuple(choices))
    raise TypeError(f"{path}: no control for a field of type {annotation!r}")


LEVERS: tuple[Lever, ...] = tuple(lever(path, title) for path, title in SHOWN.items())
