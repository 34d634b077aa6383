"""Schema building blocks: immutable sections and fields that carry unit, meaning and source.

Also the checks every section shares, so that a value the schema accepts is one the model
reads as written: no booleans for numbers, ranges whose minimum is not above their maximum,
and :func:`cross_field` errors that name the field they are about.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, get_args

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

N_AGES = 101  #: single years of age 0..100, the last one open (100+)
REPRO_AGES = range(15, 50)  #: the reproductive ages of fertility tables
N_REPRO = len(REPRO_AGES)


def _length(n: int, what: str):
    def check(values: tuple[float, ...]) -> tuple[float, ...]:
        if len(values) != n:
            raise ValueError(f"{what} needs exactly {n} values, got {len(values)}")
        return values

    return AfterValidator(check)


NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Prob = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
AgeRates = Annotated[tuple[NonNeg, ...], _length(N_AGES, "a table by single year of age 0..100")]


def _infinite_only_at_the_open_age(values: tuple[float, ...]) -> tuple[float, ...]:
    if any(math.isnan(v) for v in values):
        raise ValueError("death rates must be numbers (NaN is not)")
    if any(math.isinf(v) for v in values[:-1]):
        raise ValueError(
            "only the open age 100+ may have an infinite death rate (.inf in YAML: nobody "
            "survives past 100); ages 0..99 need finite rates"
        )
    return values


#: death rates by single year of age; the open age 100+ may be .inf, a closed life table
DeathRates = Annotated[
    tuple[Annotated[float, Field(ge=0, allow_inf_nan=True)], ...],
    _length(N_AGES, "a table by single year of age 0..100"),
    AfterValidator(_infinite_only_at_the_open_age),
]
ReproProbs = Annotated[tuple[Prob, ...], _length(N_REPRO, "a table by single year of age 15..49")]
ReproRates = Annotated[tuple[NonNeg, ...], _length(N_REPRO, "a table by single year of age 15..49")]


def lever(default: Any = None, *, unit: str, meaning: str, source: str = "[U]", **kw: Any) -> Any:
    """A schema field that carries its unit, meaning and source into the JSON Schema."""
    extra = {"unit": unit, "source": source}
    if callable(default):
        kw["default_factory"] = default
    else:
        kw["default"] = default
    return Field(description=f"{meaning} [{unit}] {source}", json_schema_extra=extra, **kw)


def cross_field(field: str, value: Any, reason: str) -> PydanticCustomError:
    """An error found by comparing fields, located at ``field`` (dotted, below the section).

    A section's own validator is located at the section; the loader appends ``field`` so the
    message names the field and its value like any other error.
    """
    return PydanticCustomError(
        "cross_field", "{reason}", {"reason": reason, "field": field, "value": value}
    )


def _numeric(annotation: Any) -> bool:
    """Whether a field's type holds numbers (int or float, alone or in a tuple or union)."""
    if annotation is int or annotation is float:
        return True
    return any(_numeric(a) for a in get_args(annotation))


def _bool_in(value: Any) -> str | None:
    """Where a boolean sits in a number or a list of numbers, if anywhere."""
    if isinstance(value, bool):
        return "a yes/no value"
    if isinstance(value, Sequence) and not isinstance(value, str):
        for i, item in enumerate(value):
            if isinstance(item, bool):
                return f"item {i} is a yes/no value"
    return None


class Section(BaseModel):
    """Base of every schema section: immutable, unknown keys refused, values read as written.

    Pydantic would read ``true`` as 1 in a number field (``years: true`` ran one year);
    booleans are refused there. A pair ``X_min``/``X_max`` must have min <= max, since a
    reversed range silently switches its process off.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_default=False, allow_inf_nan=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and _numeric(field.annotation):
            where = _bool_in(value)
            if where is not None:
                raise PydanticCustomError(
                    "bool_not_number",
                    "{where}, but a number is needed here (YAML reads true/false, yes/no and "
                    "on/off as yes/no values)",
                    {"where": where},
                )
        return value

    @model_validator(mode="after")
    def _ranges_ordered(self) -> Any:
        names = type(self).model_fields
        for low in (n for n in names if n.endswith("_min")):
            high = low[:-4] + "_max"
            lo, hi = getattr(self, low), getattr(self, high, None)
            if lo is not None and hi is not None and lo > hi:
                raise cross_field(
                    low, lo, f"must not be above {high} ({hi}): {low}..{high} is a range"
                )
        return self


def survivable_age0(mx: Sequence[float], field: str) -> None:
    """Refuse a death rate at age 0 that kills every newborn within its first month.

    The model's monthly death probability is ``1 - exp(-mx / 12)``; from about 449 per year
    it rounds to 1, so nobody would ever be older than a month.
    """
    if -math.expm1(-mx[0] / 12.0) >= 1.0:
        raise cross_field(
            f"{field}.0",
            mx[0],
            "this death rate at age 0 leaves no newborn alive (its monthly death probability "
            "rounds to 1); it must be below 449 per person-year",
        )


def drawable_population(
    weights: dict[str, Sequence[float]], mx: dict[str, Sequence[float]], burn_in: int
) -> None:
    """Refuse initial weights from which no population can be drawn (a NaN crash at the start).

    The model back-projects the weights ``burn_in`` years, from the date of the age
    structure to the burn-in's start (:meth:`Scenario.back_projection_years`): persons aged
    ``a + burn_in`` in the structure are drawn at age ``a``, divided by their survival
    ``exp(-(mx[a] + ... + mx[a + burn_in - 1]))`` (as in :mod:`popsim.model.initial`). That
    needs weights at some age, at ages the projection does not skip, and survivals that do
    not round to zero.
    """
    total = 0.0
    for sex in ("female", "male"):
        w, m = np.asarray(weights[sex], dtype=float), np.asarray(mx[sex], dtype=float)
        if burn_in == 0:
            total += float(w.sum())
            continue
        ages = np.arange(w.size - burn_in)
        hazard = np.concatenate([[0.0], np.cumsum(m)])
        with np.errstate(over="ignore"):
            inverse_survival = np.exp(hazard[ages + burn_in] - hazard[ages])
        bad = ages[np.isinf(inverse_survival) & (w[ages + burn_in] > 0)]
        if bad.size:
            a = int(bad[0])
            raise cross_field(
                f"demography.mortality.mx_{sex}",
                tuple(mx[sex]),
                f"with these death rates nobody aged {a} at the burn-in's start lives to age "
                f"{a + burn_in}, {burn_in} years later at the date of the initial structure "
                f"(township.burn_in_years, initial.as_of_year), yet initial.{sex}_by_age has "
                f"persons of that age; lower the death rates at ages {a}..{a + burn_in - 1} or "
                "shorten the burn-in",
            )
        with np.errstate(over="ignore", invalid="ignore"):
            total += float(
                np.where(w[ages + burn_in] > 0, w[ages + burn_in] * inverse_survival, 0).sum()
            )
    if not math.isfinite(total):
        raise cross_field(
            "initial.female_by_age",
            tuple(weights["female"]),
            "the initial weights' total overflows; give relative weights of a usual size",
        )
    if total > 0:
        return
    if not any(v > 0 for sex in ("female", "male") for v in weights[sex]):
        reason = (
            "initial.female_by_age and initial.male_by_age are all zero; the initial "
            "population needs a positive weight at some age"
        )
    else:
        reason = (
            f"every positive weight is at ages below {burn_in}, but the burn-in starts "
            f"{burn_in} years before the date of the initial structure (township.burn_in_years, "
            f"initial.as_of_year), from the persons aged {burn_in}..100 in it; give weights at "
            "those ages or shorten the burn-in"
        )
    raise cross_field("initial.female_by_age", tuple(weights["female"]), reason)
