"""Schema building blocks: immutable sections and fields that carry unit, meaning and source."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

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


class Section(BaseModel):
    """Base of every schema section: immutable, unknown keys refused."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_default=False, allow_inf_nan=False
    )
