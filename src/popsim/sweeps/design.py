"""From a sweep file to its runs: checks against the scenario schema, the design, the seeds.

The design is drawn on the unit cube [0, 1]^D (a grid here, SALib's samplers in
:mod:`popsim.sweeps.sensitivity`); :func:`unit_values` maps each column to its parameter's values
by the inverse distribution function (a range: uniform; a list: each value alike; a
distribution: its quantiles), rounding for integer fields. Every design point is validated
against the scenario schema before any run starts.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from popsim.outputs.results import TABLES
from popsim.outputs.statistics import STATISTICS, is_figure
from popsim.scenario.loading import ScenarioError, override_keys
from popsim.sweeps.executors import Task, apply_overrides
from popsim.sweeps.spec import (
    MAX_RUNS,
    RESERVED,
    UNBOUNDED,
    Range,
    SweepError,
    SweepSpec,
    suggest,
)


def scenario_field(dotted: str) -> tuple[Any, str | None]:
    """The schema field at a dotted path, or (None, why not); ``table.N`` is entry N of a table.

    ``timeline.N.set.FIELD``, the value dated change N (from 0) sets, has FIELD's schema.
    """
    from popsim.scenario.demography import Scenario

    parts = override_keys(dotted)
    if len(parts) == 4 and parts[0] == "timeline":
        return scenario_field(parts[3])
    if len(parts) > 1 and parts[-1].isdigit():  # one entry of a table: 'prob_no_son.2'
        table, problem = scenario_field(".".join(parts[:-1]))
        if problem or typing.get_origin(table.annotation) is not tuple:
            return None, problem or f"'{dotted}': '{'.'.join(parts[:-1])}' is not a table."
        (entry, *_) = typing.get_args(table.annotation)
        if typing.get_origin(entry) is typing.Annotated:
            entry = typing.get_args(entry)[0]
        return FieldInfo(annotation=entry), None
    model: type[BaseModel] = Scenario
    for i, part in enumerate(parts):
        fields = model.model_fields
        if part not in fields:
            where = ".".join(parts[:i]) or "the top level"
            close = suggest(part, fields)
            hint = f" Did you mean {'.'.join([*parts[:i], close])!r}?" if close else ""
            return None, (
                f"'{dotted}' is not a scenario field: {where} has no {part!r}.{hint} "
                f"Fields there: {', '.join(fields)}."
            )
        annotation = fields[part].annotation
        is_section = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if i < len(parts) - 1 and not is_section:
            return None, f"'{dotted}': '{'.'.join(parts[: i + 1])}' is a value, not a section."
        if i == len(parts) - 1 and is_section:
            inner = ", ".join(annotation.model_fields)
            return None, f"'{dotted}' is a section; sweep one of its fields: {inner}."
        if is_section:
            model = annotation
    return fields[parts[-1]], None


def is_integer_field(dotted: str) -> bool:
    """Whether the scenario field holds an integer (so sampled values are whole numbers)."""
    info, _ = scenario_field(dotted)
    if info is None:
        return False
    annotation = info.annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return int in typing.get_args(annotation)
    return annotation is int


def _kind(values: tuple) -> str | None:
    kinds = {
        "bool" if isinstance(v, bool) else "text" if isinstance(v, str) else "number"
        for v in values
    }
    return kinds.pop() if len(kinds) == 1 else None


def check(spec: SweepSpec, *, popsim_model: bool) -> str | None:
    """The first problem the schema cannot see, as a sentence, or None."""
    design, params = spec.design, spec.parameters
    if design != "grid" and spec.samples is None:
        return f"field 'samples' is required with design '{design}' (the N of its sampler)."
    if design == "sobol" and spec.samples & (spec.samples - 1):
        return (
            f"field 'samples' = {spec.samples}: Sobol' sequences need a power of 2 "
            f"(e.g. {1 << (spec.samples.bit_length() - 1)} or {1 << spec.samples.bit_length()})."
        )
    if design == "morris" and spec.levels % 2:
        return f"field 'levels' = {spec.levels}: Morris designs need an even number of levels."
    for name, param in params.items():
        where = f"field 'parameters.{name}'"
        if isinstance(param, tuple) and _kind(param) is None:
            return f"{where} = {list(param)!r}: values must be all numbers, all text or all bools."
        if design == "grid" and not isinstance(param, Range | tuple):
            return f"{where}: a grid takes ranges and lists of values, not distributions."
        if design == "morris" and isinstance(param, UNBOUNDED):
            return (
                f"{where}: Morris levels include the extremes, where a '{param.dist}' "
                "distribution is infinite; use a range, truncnorm, triang or logunif."
            )
        if name in RESERVED or name in spec.outputs:
            return (
                f"{where}: the name is taken by a result column ({', '.join(RESERVED)}, outputs)."
            )
        if popsim_model:
            info, problem = scenario_field(name)
            if problem:
                return f"{where}: {problem}"
            integer = is_integer_field(name)
            if (
                integer
                and isinstance(param, Range)
                and not (param.low.is_integer() and param.high.is_integer())
            ):
                return f"{where}: '{name}' is an integer field; give whole-number low and high."
            size = {"n_persons": spec.n_agents, "years": spec.years}
            if name.startswith("township.") and size.get(name.split(".")[1]) is not None:
                return f"{where}: set by the sweep's n_agents/years; remove one of the two."
    for name in spec.outputs:
        if name in RESERVED:
            return f"field 'outputs': {name!r} is taken by a result column."
    if popsim_model:
        known = ["statistics", *STATISTICS, *TABLES]
        for name in spec.outputs:
            if name not in known and not is_figure(name):
                close = suggest(name, known)
                hint = f" Did you mean {close!r}?" if close else ""
                return (
                    f"field 'outputs': unknown output {name!r}.{hint} Allowed: {', '.join(known)}."
                )
    runs = n_runs(spec)
    if runs > MAX_RUNS:
        return f"{runs} runs: more than the {MAX_RUNS} a sweep may have."
    return None


def n_points(spec: SweepSpec) -> int:
    """The design's number of points, counted without drawing it."""
    params = spec.parameters
    if spec.design == "grid":
        sizes = [spec.levels if isinstance(p, Range) else len(p) for p in params.values()]
        return int(np.prod(sizes, dtype=object))
    from popsim.sweeps import sensitivity

    return sensitivity.n_points(spec.design, len(params), spec.samples, spec.second_order)


def n_runs(spec: SweepSpec) -> int:
    """The sweep's number of runs: design points times replicates."""
    return n_points(spec) * spec.replicates


#: Sweeps and calibrations with more runs than this start only when confirmed (--allow-large):
#: at about a CPU-second a small run, 100,000 runs are more than a day on a 2-core machine.
LARGE_RUNS = 100_000


def confirm_runs(runs: int, allowed: bool, what: str, flag: str = "--allow-large") -> None:
    """Refuse ``runs`` runs above :data:`LARGE_RUNS` unless ``allowed``, so none starts by mistake.

    Raises:
        SweepError: giving the run count and how to confirm it.
    """
    if runs > LARGE_RUNS and not allowed:
        raise SweepError(
            f"{what}: {runs:,} runs, more than the {LARGE_RUNS:,} that start without "
            f"confirmation; reduce the levels, samples, trials or replicates, or confirm with "
            f"{flag} (allow_large=True from Python)."
        )


# --- from the unit cube to values ----------------------------------------------------------


def units_grid(param: Any, levels: int) -> np.ndarray:
    """A grid's positions on [0, 1] for a range (``levels`` values) or a list (all)."""
    if isinstance(param, tuple):
        return (np.arange(len(param)) + 0.5) / len(param)
    return np.linspace(0.0, 1.0, levels)


def unit_values(param: Any, u: np.ndarray, integer: bool = False) -> list:
    """The parameter's values at positions ``u`` on [0, 1], as plain Python scalars."""
    u = np.asarray(u, dtype=float)
    if isinstance(param, tuple):
        index = np.minimum((u * len(param)).astype(int), len(param) - 1)
        as_float = _kind(param) == "number" and any(isinstance(v, float) for v in param)
        return [float(param[i]) if as_float else param[i] for i in index]
    if isinstance(param, Range):
        if integer:
            whole = np.floor(param.low + u * (param.high - param.low + 1))
            return [int(v) for v in np.clip(whole, param.low, param.high)]
        return [float(v) for v in param.low + u * (param.high - param.low)]
    values = param.ppf(u)
    return [int(round(v)) for v in values] if integer else [float(v) for v in values]


# --- runs ------------------------------------------------------------------------------------


def run_seed(sweep_seed: int, key: int) -> int:
    """A run's seed: child ``key`` of the sweep's SeedSequence, below 2**52.

    52 bits keep a seed exact in a float64 (a row of a table read with ``iloc`` turns
    into floats), and make two runs of a million-run sweep share a seed with
    probability about 1e-4.
    """
    state = np.random.SeedSequence(sweep_seed, spawn_key=(key,)).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(12))


@dataclass
class Plan:
    """The design and every run of a sweep."""

    names: list[str]
    units: np.ndarray  # points x parameters, on [0, 1]
    points: list[dict[str, Any]]  # each point's parameter values
    tasks: list[Task] = field(default_factory=list)


def plan(sweep: Any) -> Plan:
    """Draw the design, map it to parameter values, validate every point, list the runs.

    Raises:
        SweepError: a design point is not a valid scenario (the message names the lever).
    """
    spec = sweep.spec
    names = list(spec.parameters)
    if spec.design == "grid":
        grids = [units_grid(spec.parameters[n], spec.levels) for n in names]
        mesh = np.meshgrid(*grids, indexing="ij")
        units = np.stack([m.ravel() for m in mesh], axis=1)
    else:
        from popsim.sweeps.sensitivity import unit_sample

        units = unit_sample(
            spec.design,
            names,
            spec.samples,
            levels=spec.levels,
            second_order=spec.second_order,
            seed=spec.seed,
        )
    popsim_model = sweep.model == "popsim"
    columns = [
        unit_values(spec.parameters[n], units[:, k], popsim_model and is_integer_field(n))
        for k, n in enumerate(names)
    ]
    points = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    if popsim_model:
        _validate_points(sweep, points)
    tasks = []
    for p, point in enumerate(points):
        for r in range(spec.replicates):
            i = p * spec.replicates + r
            seed = run_seed(spec.seed, r if spec.seeds == "common" else i)
            tasks.append(Task(i, p, r, seed, point))
    return Plan(names, units, points, tasks)


def _validate_points(sweep: Any, points: list[dict[str, Any]]) -> None:
    data = sweep.scenario.model_dump()
    checked: set = set()
    for p, point in enumerate(points):
        key = tuple(point.items())
        if key in checked:
            continue
        try:
            apply_overrides(sweep.scenario, point, data)
        except ScenarioError as exc:
            shown = ", ".join(f"{k}={v!r}" for k, v in point.items())
            raise SweepError(
                f"{sweep.path}: design point {p} ({shown}) is not a valid scenario; narrow "
                f"that parameter's range in 'parameters'. {exc}"
            ) from None
        checked.add(key)
