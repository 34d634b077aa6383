"""Run one scenario with one seed and gather its tables."""

from __future__ import annotations

import platform
import time
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from popsim.model.records import agent_tables
from popsim.model.township import PopsimModel
from popsim.outputs import burn_in, guards, indicators
from popsim.outputs.kpis import annual_kpis
from popsim.outputs.results import Result
from popsim.scenario.demography import Scenario
from popsim.scenario.loading import (
    SEED_RULE,
    ScenarioError,
    load_scenario,
    shown,
    valid_seed,
    validate,
)
from popsim.version import code_version

VERSIONED = ("popsim", "mesa", "numpy", "pandas", "pydantic", "pyarrow")


@cache
def package_version(package: str) -> str:
    """The installed version of ``package``, or ``"not installed"`` (read once: 0.5 ms each)."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def resize(scenario: Scenario, n_agents: int | None = None, years: int | None = None) -> Scenario:
    """The scenario with another initial population size or duration, validated."""
    update = {k: v for k, v in (("n_persons", n_agents), ("years", years)) if v is not None}
    if not update:
        return scenario
    data = scenario.model_dump()
    data["township"].update(update)
    origins = {("township", k): "simulate() arguments" for k in update}
    return validate(data, origins)


def simulate(
    scenario: Scenario | str | Path,
    seed: int = 0,
    n_agents: int | None = None,
    years: int | None = None,
    check_memory: bool = True,
    shared_burn_in: bool = True,
) -> Result:
    """Run ``scenario`` (a Scenario or a YAML path) and return its :class:`Result`.

    Args:
        scenario: the scenario, or a path to its YAML file.
        seed: the run's seed, 0 to 2**63-1; the same seed gives identical tables.
        n_agents: initial number of persons, overriding ``township.n_persons``.
        years: simulated years, overriding ``township.years``.
        check_memory: refuse, before allocating, a run whose estimated peak memory exceeds
            the memory available (:func:`popsim.outputs.guards.check_memory`); the
            ``POPSIM_SKIP_MEMORY_CHECK=1`` environment variable also turns it off.
        shared_burn_in: start from the state at month 0 of an earlier run with the same
            burn-in, if this process has it (or the folder of
            :data:`popsim.outputs.burn_in.FOLDER_VARIABLE`), and keep this run's for later
            ones (:mod:`popsim.outputs.burn_in`); the tables are the same either way.

    Raises:
        ScenarioError: a bad scenario or seed, or a run too large for the memory available.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if not valid_seed(seed):
        raise ScenarioError(f"simulate() arguments: seed = {shown(seed)}: {SEED_RULE}.")
    scenario = resize(scenario, n_agents, years)
    if check_memory:
        guards.check_memory(scenario.township.n_persons, scenario.township.years)
    started = time.process_time()
    model = model_at_start(scenario, int(seed), burn_in.shared() if shared_burn_in else None)
    model.run()
    cpu_seconds = time.process_time() - started
    return collect(model, cpu_seconds)


def model_at_start(scenario: Scenario, seed: int, shared: burn_in.BurnIns | None) -> PopsimModel:
    """A run at month 0: started from ``shared``'s state of its burn-in if it has it.

    Otherwise the run computes its own, and its state goes to ``shared`` if kept there.
    """
    k = shared.wanted(scenario, seed) if shared is not None else None
    start = shared.find(k) if k is not None else None
    model = PopsimModel(scenario, seed=seed, start=start)
    if k is not None and start is None:
        shared.keep(model.start_state())
    return model


def collect(model: PopsimModel, cpu_seconds: float = float("nan")) -> Result:
    """Turn a finished model's arrays and logs into tidy tables."""
    s = model.given  # as given: its hash, and the KPIs' reporting assumptions
    start = s.township.start_year
    monthly = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    agents = agent_tables(model)
    regime = model.regime
    records = pd.DataFrame(model.world.ledger.records if regime is not None else {"month": []})
    events = model.world.log.frame()
    events.insert(1, "year", (events["month"] // 12 + start).astype(np.int32))
    exposure = indicators.exposure_frame(model.exposure, start)
    pyramid = indicators.pyramid(model.snapshots["pyramid"], start)
    manifest = {
        "scenario": s.name,
        "scenario_hash": s.digest(),
        "seed": model.world.streams.seed,
        "n_persons": s.township.n_persons,
        "years": s.township.years,
        "start_year": start,
        "code_version": code_version(),
        "versions": {p: package_version(p) for p in VERSIONED}
        | {"python": platform.python_version()},
        "cpu_seconds": round(cpu_seconds, 3),
    }
    return Result(
        annual=indicators.annual(monthly, events, exposure, start, pyramid),
        asfr=indicators.asfr(events, exposure),
        asfr5=indicators.asfr_5year(events, exposure),
        events=events,
        monthly=monthly,
        villages=agents["villages"],
        exposure=exposure,
        pyramid=pyramid,
        parity=indicators.parity_distribution(model.snapshots["parity"], start),
        kpis=annual_kpis(events, records, s),
        policy_monthly=records,
        cadres=agents["cadres"],
        manifest=manifest,
    )


def summary(result: Result) -> pd.DataFrame:
    """A short table of the run: first, middle and last year of the key indicators."""
    a = result.annual
    if not result.kpis.empty:
        kpis = [
            "compliance_true",
            "compliance_reported",
            "contraceptive_prevalence",
            "spend_total",
            "yuan_fee_collected",
        ]
        a = a.merge(result.kpis[["year", *kpis]], on="year", how="left")
    picks = sorted({a["year"].iloc[0], a["year"].iloc[len(a) // 2], a["year"].iloc[-1]})
    cols = [c for c in a.columns if c in SUMMARY]
    return a.loc[a["year"].isin(picks), cols].round(3).set_index("year")


SUMMARY = (
    "year",
    "population",
    "births",
    "deaths",
    "in_migrants",
    "out_migrants",
    "cbr",
    "cdr",
    "tfr",
    "srb",
    "mean_age_first_birth",
    "compliance_true",
    "compliance_reported",
    "contraceptive_prevalence",
    "spend_total",
    "yuan_fee_collected",
)
