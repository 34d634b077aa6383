"""The sweep file's schema: the parameters' values, the design, replicates and outputs.

A parameter takes one of three forms:

- a range ``{low: 0.4, high: 0.8}``: uniform (for an integer field, each integer from low
  to high is equally likely); a grid takes ``levels`` evenly spaced values;
- a list of values ``[one_child, one_and_half]``: each equally likely (a grid takes all);
- a distribution ``{dist: norm, mean: 1.06, sd: 0.01}``: ``norm`` (mean, sd), ``truncnorm``
  (mean, sd, low, high), ``lognorm`` (meanlog, sdlog), ``triang`` (low, mode, high) or
  ``logunif`` (low, high); not in a grid, and Morris needs a bounded one.

A design point is a row on [0, 1]^D; :func:`unit_values` maps each column to its
parameter's values by the inverse distribution function.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PositiveFloat,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    model_validator,
)

from popsim.scenario.loading import ScenarioError, shown
from popsim.sweeps.executors import DEFAULT_OUTPUTS

DESIGNS = ("grid", "latin_hypercube", "sobol", "morris")
RESERVED = ("run", "point", "replicate", "seed")
MAX_RUNS = 10_000_000


class SweepError(ScenarioError):
    """A sweep file or output folder that cannot be used; the message says why."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Range(_Strict):
    """Uniform between ``low`` and ``high``."""

    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        return self


class Normal(_Strict):
    """Normal distribution."""

    dist: Literal["norm"]
    mean: float
    sd: PositiveFloat

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantiles."""
        from scipy import stats

        return stats.norm.ppf(u, loc=self.mean, scale=self.sd)


class TruncNormal(_Strict):
    """Normal distribution truncated to [low, high]."""

    dist: Literal["truncnorm"]
    mean: float
    sd: PositiveFloat
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> TruncNormal:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        return self

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantiles."""
        from scipy import stats

        a, b = (self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd
        return stats.truncnorm.ppf(u, a, b, loc=self.mean, scale=self.sd)


class LogNormal(_Strict):
    """Log-normal distribution: the log is normal with ``meanlog`` and ``sdlog``."""

    dist: Literal["lognorm"]
    meanlog: float
    sdlog: PositiveFloat

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantiles."""
        from scipy import stats

        return np.exp(stats.norm.ppf(u, loc=self.meanlog, scale=self.sdlog))


class Triangular(_Strict):
    """Triangular distribution on [low, high] with its peak at ``mode``."""

    dist: Literal["triang"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.low <= self.mode <= self.high or not self.low < self.high:
            raise ValueError("needs low <= mode <= high and low < high")
        return self

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantiles."""
        from scipy import stats

        c = (self.mode - self.low) / (self.high - self.low)
        return stats.triang.ppf(u, c, loc=self.low, scale=self.high - self.low)


class LogUniform(_Strict):
    """Log-uniform distribution on [low, high], low > 0."""

    dist: Literal["logunif"]
    low: PositiveFloat
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> LogUniform:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        return self

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantiles."""
        return self.low * (self.high / self.low) ** u


Distribution = Annotated[
    Normal | TruncNormal | LogNormal | Triangular | LogUniform, Field(discriminator="dist")
]
UNBOUNDED = (Normal, LogNormal)
Scalar = StrictBool | StrictInt | StrictFloat | StrictStr
Values = Annotated[tuple[Scalar, ...], Field(min_length=1)]
FORMS = (
    "a range {low: .., high: ..}, a list of values, or a distribution {dist: norm|truncnorm|"
    "lognorm|triang|logunif, ...}"
)


def _form(value: Any) -> str | None:
    if isinstance(value, list | tuple):
        return "values"
    if isinstance(value, dict):
        return "distribution" if "dist" in value else "range"
    if isinstance(value, Range):
        return "range"
    return "distribution" if isinstance(value, BaseModel) else None


Parameter = Annotated[
    Annotated[Range, Tag("range")]
    | Annotated[Values, Tag("values")]
    | Annotated[Distribution, Tag("distribution")],
    Discriminator(_form, custom_error_type="parameter_form", custom_error_message=f"is {FORMS}"),
]


class SweepSpec(_Strict):
    """A sweep file: base scenario, parameters, design, replicates, seed, size and outputs."""

    description: str = Field("", description="what the sweep asks")
    scenario: str | None = Field(
        None, description="base scenario file, relative to the sweep file (none: built-in)"
    )
    model: str = Field("popsim", description="run function: 'popsim', or 'package.module:function'")
    parameters: dict[str, Parameter] = Field(
        min_length=1, description="dotted scenario field -> its range, values or distribution"
    )
    design: Literal["grid", "latin_hypercube", "sobol", "morris"]
    samples: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="N: LHS points, Sobol base samples (a power of 2), Morris trajectories",
    )
    levels: int = Field(4, ge=2, le=1000, description="Morris levels (even); grid points per range")
    second_order: bool = Field(False, description="Sobol: also second-order indices")
    replicates: int = Field(1, ge=1, le=100_000, description="seeds per design point")
    seed: StrictInt = Field(0, ge=0, le=2**63 - 1, description="the sweep's seed")
    seeds: Literal["common", "independent"] = Field(
        "common",
        description="'common': replicate r of every point shares its seed (common random "
        "numbers); 'independent': a seed per run",
    )
    n_agents: int | None = Field(None, ge=1, le=50_000_000, description="initial persons")
    years: int | None = Field(None, ge=1, le=300, description="simulated years")
    outputs: tuple[str, ...] = Field(
        DEFAULT_OUTPUTS,
        min_length=1,
        description="statistics (names of popsim's statistics, or 'statistics' for all) and tables",
    )


# --- errors --------------------------------------------------------------------------------


def suggest(name: str, known: Any) -> str | None:
    """The known name closest to a misspelt one, or one it begins (``tfr`` -> ``tfr_true``)."""
    close = difflib.get_close_matches(name, list(known), n=1)
    starting = [k for k in known if k.startswith(name)] if name else []
    return close[0] if close else starting[0] if len(starting) == 1 else None


_TAG_MODELS = {
    "range": Range,
    "norm": Normal,
    "truncnorm": TruncNormal,
    "lognorm": LogNormal,
    "triang": Triangular,
    "logunif": LogUniform,
}


def describe(error: dict, top: type[BaseModel] | None = None) -> str:
    """One sentence for a pydantic error of a sweep file (or ``top``): field, value, allowed."""
    loc = list(error["loc"])
    model: type[BaseModel] = top or SweepSpec
    if top is None and len(loc) > 2 and loc[0] == "parameters":
        tag = loc.pop(2)  # the form's tag, not a field of the file
        if tag == "distribution" and len(loc) > 2:
            tag = loc.pop(2)
        model = _TAG_MODELS.get(tag, SweepSpec)
    dotted = ".".join(str(p) for p in loc) or "(top level)"
    value = error.get("input")
    text = shown(value) if not isinstance(value, dict) else "a mapping"
    if error["type"] == "extra_forbidden":
        known = sorted(model.model_fields)
        close = suggest(str(loc[-1]), known)
        hint = f" Did you mean {close!r}?" if close else ""
        return f"unknown field '{dotted}'.{hint} Allowed here: {', '.join(known)}."
    if error["type"] == "union_tag_invalid":  # an unknown distribution
        ctx = error.get("ctx", {})
        return f"field '{dotted}.dist' = {ctx.get('tag')!r}: allowed: {ctx.get('expected_tags')}."
    if error["type"] == "missing":
        return f"field '{dotted}' is required."
    return f"field '{dotted}' = {text}: {error['msg']}."


def parse(
    path: Any, data: dict, spec: type[BaseModel], kind: str, error: type[Exception], explain=None
) -> Any:
    """``spec`` validated from a file's ``data``; ``error`` lists every problem, one sentence each.

    ``explain`` turns a pydantic error into the sentence (default: :func:`describe`).
    """
    try:
        return spec.model_validate(data)
    except ValidationError as exc:
        lines = [(explain or describe)(e) for e in exc.errors(include_url=False)]
        head = f"invalid {kind}" + (f" ({len(lines)} problems)" if len(lines) > 1 else "")
        raise error(f"{path}: {head}: " + " ".join(lines)) from None
