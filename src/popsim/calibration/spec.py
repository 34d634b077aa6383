"""A calibration file: the base scenario, the parameters to fit, the targets and the budget.

A calibration file (``params/calibration/*.yaml``)::

    scenario: ../baseline.yaml      # base scenario, relative to this file
    targets: targets.yaml           # target file (popsim.calibration.targets.load_targets)
    parameters:                     # dotted scenario field: the range searched (uniform prior)
      policy.decision.son_preference: {low: 0.4, high: 0.8}
    sampler: tpe                    # tpe (Bayesian optimisation), random or qmc (Sobol')
    trials: 160                     # parameter sets tried
    batch: 8                        # trials proposed at once and run in parallel
    replicates: 2                   # seeds per trial in the search, the same for every trial
    rungs:                          # racing: the best `keep` trials get `replicates` seeds in all
      - {keep: 12, replicates: 6}
      - {keep: 4, replicates: 12}
    candidates: 3                   # best raced trials re-run on fresh seeds with the start
    check_replicates: 8             # fresh seeds of that adoption check
    start: {...}                    # optional: where the search starts (default: the scenario)
    seed: 2009
    n_agents: 38000
    years: 3                        # at least the targets' window

:func:`load_calibration` validates it against the scenario schema and the target file
before any run starts, with errors that name the file and the field.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, StrictInt, model_validator

from popsim.calibration.targets import CalibrationError, Target, load_targets
from popsim.outputs.statistics import STATISTICS, WINDOW_YEARS
from popsim.scenario.loading import ScenarioError, load_scenario, override_keys, read_yaml
from popsim.scenario.timeline import OWN_PAST
from popsim.sweeps.design import is_integer_field, scenario_field
from popsim.sweeps.executors import apply_overrides
from popsim.sweeps.spec import Range, _Strict, describe, parse
from popsim.version import code_version

SAMPLERS = ("tpe", "random", "qmc")


class Rung(_Strict):
    """A racing rung: the best ``keep`` trials so far are run on ``replicates`` seeds in all."""

    keep: int = Field(ge=1, le=100_000, description="trials promoted to this rung")
    replicates: int = Field(ge=2, le=1000, description="common seeds of each promoted trial")


class CalibrationSpec(_Strict):
    """A calibration file's fields."""

    description: str = Field("", description="what the calibration fits")
    scenario: str | None = Field(
        None, description="base scenario file, relative to this file (none: built-in)"
    )
    model: str = Field("popsim", description="run function: 'popsim', or 'package.module:function'")
    targets: str = Field(description="target file, relative to this file")
    parameters: dict[str, Range] = Field(
        min_length=1, description="dotted scenario field -> the range searched {low, high}"
    )
    sampler: Literal["tpe", "random", "qmc"] = Field(
        "tpe", description="tpe: Bayesian optimisation (Optuna's TPE); random; qmc: Sobol'"
    )
    trials: int = Field(ge=1, le=100_000, description="parameter sets tried")
    batch: int = Field(8, ge=1, le=10_000, description="trials proposed at once, run in parallel")
    startup_trials: int = Field(
        16, ge=1, le=100_000, description="tpe: random trials before it models the loss"
    )
    replicates: int = Field(
        2, ge=1, le=1000, description="seeds per trial in the search, common to all trials"
    )
    rungs: list[Rung] = Field(
        default_factory=list,
        description="racing after the search: fewer trials, more seeds at each rung",
    )
    candidates: int = Field(
        3, ge=1, le=1000, description="best raced trials re-run on fresh seeds with the start"
    )
    check_replicates: int = Field(
        8, ge=2, le=10_000, description="fresh seeds on which the candidates are compared"
    )
    start: dict[str, float] | None = Field(
        None, description="parameter -> starting value (default: the base scenario's values)"
    )
    seed: StrictInt = Field(0, ge=0, le=2**63 - 1, description="the calibration's seed")
    n_agents: int | None = Field(None, ge=1, le=50_000_000, description="initial persons")
    years: int | None = Field(None, ge=1, le=300, description="simulated years")

    @model_validator(mode="after")
    def _racing(self) -> CalibrationSpec:
        seeds, keep = self.replicates, self.trials
        for i, rung in enumerate(self.rungs):
            if rung.replicates <= seeds or rung.keep >= keep:
                raise ValueError(
                    f"rungs.{i} = {{keep: {rung.keep}, replicates: {rung.replicates}}}: each "
                    f"rung keeps fewer trials (below {keep}) on more seeds (above {seeds})"
                )
            seeds, keep = rung.replicates, rung.keep
        if self.start is not None and set(self.start) != set(self.parameters):
            raise ValueError(
                f"start names {sorted(self.start)}: give a value for each of the parameters "
                f"{sorted(self.parameters)}"
            )
        for name, value in (self.start or {}).items():
            if not self.parameters[name].low <= value <= self.parameters[name].high:
                raise ValueError(f"start.{name} = {value:g} lies outside its range")
        return self

    @property
    def max_replicates(self) -> int:
        """The most seeds a trial can get (its runs are numbered trial * this + seed)."""
        return max([self.replicates, *(r.replicates for r in self.rungs)])

    @model_validator(mode="after")
    def _window(self) -> CalibrationSpec:
        if self.model == "popsim" and self.years is not None and self.years < WINDOW_YEARS:
            raise ValueError(
                f"years = {self.years}: the targets describe the first {WINDOW_YEARS} years; "
                f"simulate at least {WINDOW_YEARS}"
            )
        return self


@dataclass(frozen=True)
class Calibration:
    """A validated calibration: its spec, file, base scenario, targets and run function."""

    spec: CalibrationSpec
    name: str
    path: Path
    scenario: Any
    scenario_path: Path | None
    targets: tuple[Target, ...]

    @property
    def identity(self) -> dict[str, Any]:
        """What must match for an output folder's runs to be reused."""
        from importlib.metadata import version

        return {
            # more trials or check seeds continue a calibration: its proposals replay
            "spec": self.spec.model_dump(
                mode="json",
                exclude={"description", "trials", "candidates", "check_replicates"},
            ),
            "scenario_hash": self.scenario.digest() if self.scenario is not None else None,
            "targets": [vars(t) for t in self.targets],
            "code_version": code_version(),
            "optuna": version("optuna"),  # its proposals may change between releases
        }

    @property
    def digest(self) -> str:
        """SHA-256 of :attr:`identity`."""
        text = json.dumps(self.identity, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def base_values(self) -> dict[str, Any] | None:
        """Where the search starts: ``start``, else the base scenario's values (if in range)."""
        if self.spec.start is not None:
            return {
                name: int(v) if is_integer_field(name) and self.spec.model == "popsim" else v
                for name, v in self.spec.start.items()
            }
        if self.scenario is None:
            return None
        data = self.scenario.model_dump()
        values = {}
        for name, param in self.spec.parameters.items():
            value = data
            for part in override_keys(name):
                value = value[int(part)] if isinstance(value, list | tuple) else value.get(part)
            if value is None or not param.low <= value <= param.high:  # unset, or out of range
                return None
            values[name] = value
        return values


def load_calibration(path: str | Path) -> Calibration:
    """Read and validate a calibration file, its base scenario and its target file.

    Raises:
        CalibrationError: naming the file, the field, the value and what is allowed (a bad
            base scenario raises its own ScenarioError).
    """
    path = Path(path)
    data = read_yaml(path, "calibration", CalibrationError)
    spec = parse(path, data, CalibrationSpec, "calibration", CalibrationError, _describe)
    popsim_model = spec.model == "popsim"
    targets_path = path.parent / spec.targets
    if not targets_path.is_file():
        raise CalibrationError(
            f"{path}: field 'targets' = {spec.targets!r}: {targets_path} does not exist "
            "(the path is relative to the calibration file)."
        )
    targets = load_targets(targets_path, known=tuple(STATISTICS) if popsim_model else None)
    scenario, scenario_path = None, None
    if spec.scenario is not None:
        scenario_path = (path.parent / spec.scenario).resolve()
        if not scenario_path.is_file():
            raise CalibrationError(
                f"{path}: field 'scenario' = {spec.scenario!r}: {scenario_path} does not exist "
                "(the path is relative to the calibration file)."
            )
        scenario = load_scenario(scenario_path, OWN_PAST)
    elif popsim_model:
        scenario = load_scenario(None, OWN_PAST)
    if popsim_model:
        _check_parameters(path, spec, scenario)
    else:
        from popsim.sweeps.executors import resolve

        try:
            resolve(spec.model)
        except ScenarioError as exc:
            raise CalibrationError(f"{path}: field {exc}") from None
    return Calibration(spec, path.stem, path.resolve(), scenario, scenario_path, targets)


def _describe(error: dict) -> str:
    if error["loc"] and error["loc"][0] == "parameters" and error["type"] == "model_type":
        return f"field 'parameters.{error['loc'][1]}': give a range {{low: .., high: ..}}."
    if error["loc"] and error["loc"][0] == "parameters" and len(error["loc"]) > 2:
        return describe(error, Range)  # a range's own field
    if error["loc"] and error["loc"][0] == "rungs" and len(error["loc"]) > 2:
        return describe(error, Rung)
    return describe(error, CalibrationSpec)


def _check_parameters(path: Path, spec: CalibrationSpec, scenario: Any) -> None:
    """Every parameter is a numeric scenario field, and both ends of its range are valid."""
    for name, param in spec.parameters.items():
        where = f"{path}: field 'parameters.{name}'"
        info, problem = scenario_field(name)
        if problem:
            raise CalibrationError(f"{where}: {problem}")
        if info.annotation not in (int, float):
            raise CalibrationError(f"{where}: '{name}' is not a number; only numbers are fitted.")
        if name.startswith("township.") and name.split(".")[1] in ("n_persons", "years"):
            raise CalibrationError(f"{where}: the township's size is not a parameter to fit.")
        if is_integer_field(name) and not (param.low.is_integer() and param.high.is_integer()):
            raise CalibrationError(f"{where}: an integer field; give whole-number low and high.")
        for end in ("low", "high"):
            value = getattr(param, end)
            value = int(value) if is_integer_field(name) else value
            try:
                apply_overrides(scenario, {name: value})
            except ScenarioError as exc:
                raise CalibrationError(
                    f"{where}: {end} = {value!r} is not a valid value of the scenario. {exc}"
                ) from None
