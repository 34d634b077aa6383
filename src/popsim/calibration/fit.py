"""Calibration: fit a scenario's uncertain parameters to targets with Optuna, on any executor.

Three stages (docs/calibration.md):

1. **Search.** Each trial is a parameter set proposed by the sampler: by default Optuna's
   TPE, a Bayesian optimisation, whose first trial is the start (the base scenario's own
   values). A trial runs the same ``replicates`` seeds as every other trial (common random
   numbers: the loss then compares parameter sets, not random draws). Trials are proposed
   ``batch`` at a time (TPE's constant liar keeps a batch apart) and their runs go to the
   executors of :mod:`popsim.sweeps.executors`. The sampler is told the variance-aware loss
   (:func:`popsim.calibration.targets.loss` with the Monte Carlo variance of the mean,
   pooled over the trials so far).
2. **Racing** (:mod:`popsim.calibration.racing`): at each of the ``rungs`` the best trials so
   far get more of the common seeds, so the ranking among the best rests on many seeds.
3. **Adoption**: the best ``candidates`` raced trials, rounded to 4 significant digits, and
   the start run on ``check_replicates`` fresh seeds; the one closest to the targets there is
   adopted, so a calibration never adopts values that do worse than its start on them.

The output folder::

    OUT/manifest.json               identity (calibration hash, scenario, targets, code)
    OUT/runs/run=<i>.parquet        run i = trial * (most seeds of a trial) + seed: ids,
                                    parameter values and figures (one row), written atomically
    OUT/failures/run=<i>.json       a run that raised: its parameters and the error
    OUT/check/runs/run=<i>.parquet  candidate j on fresh seed r: i = j * check_replicates + r
    OUT/trials.parquet              one row per trial: state, seeds, losses, values, figures
    OUT/candidates.parquet          the adoption: each candidate's losses on the fresh seeds
    OUT/parameters.parquet          each parameter: range, start, fitted, near-best range,
                                    importance
    OUT/fit.parquet                 the adopted values against the targets
                                    (popsim.calibration.targets.table)
    OUT/fitted.yaml                 a scenario that ``extends`` the base with the fitted values
    OUT/report.md                   all of it for a reader

(:mod:`popsim.calibration.report` writes the last six and reads them back: :func:`read_fit`.)

A rerun resumes: the sampler is rebuilt from the seed and replays its proposals, telling
the losses of trials whose runs are on disk without running them again (its proposals
depend only on its seed and the losses it was told). For the same reason a rerun with more
``trials``, ``candidates`` or ``check_replicates`` continues a finished calibration.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from popsim.calibration.racing import Runs, adopt, check_replay, race, trial_table
from popsim.calibration.report import Fit, read_fit, write
from popsim.calibration.spec import Calibration, load_calibration
from popsim.sweeps import store as sweepstore
from popsim.sweeps.design import is_integer_field, run_seed
from popsim.sweeps.executors import Job, Task, open_executor

__all__ = ["Fit", "calibrate", "read_fit"]


def calibrate(
    calibration: Calibration | str | Path,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: Any = None,
    progress: bool = True,
    echo: Callable[[str], Any] | None = print,
) -> Fit:
    """Run (or resume) a calibration and write its fit into ``out``.

    Args:
        calibration: a :class:`Calibration` or a calibration file.
        out: the output folder; an existing one must hold the same calibration.
        workers: local processes (1: in this process), or workers of a local Dask cluster;
            default one per core.
        scheduler: None, ``"local-dask"``, a scheduler address or a dask Client.
        progress: show a progress bar over runs on stderr.
        echo: prints the start and end lines (None: silent).

    Raises:
        CalibrationError: a bad file or folder, or every trial failed.
    """
    if not isinstance(calibration, Calibration):
        calibration = load_calibration(calibration)
    spec = calibration.spec
    job = Job(
        spec.model,
        calibration.scenario,
        spec.n_agents,
        spec.years,
        tuple(t.name for t in calibration.targets),
    )
    store = sweepstore.Store(Path(out), kind="calibration")
    check = sweepstore.Store(store.out / "check", kind="calibration")
    started = time.perf_counter()
    with store.locked():
        store.prepare(_manifest(calibration))
        check.make_folders()
        done = store.done()
        for note in store.notes if echo else ():
            echo(f"popsim calibrate: {note}")
        with _quiet_optuna(), open_executor(workers, scheduler) as executor:
            study = _study(calibration)
            if echo:
                echo(
                    f"popsim calibrate {calibration.name}: {spec.trials} trials x "
                    f"{spec.replicates} seeds, {len(done)} runs already done, with "
                    f"{executor.description} -> {store.out}"
                )
            runner = Runner(executor, job, list(spec.parameters), done)
            runner.bar(planned_runs(calibration), len(done), calibration.name, progress)
            runs = Runs(store, calibration)
            try:
                _search(study, calibration, store, runner, runs)
                raced = race(calibration, study, store, runner, runs)
                adoption = adopt(calibration, study, raced, check, runner, runs)
            finally:
                runner.progress.close()
            trials = trial_table(calibration, study, runs)
            parameters = _parameters(calibration, study, trials, adoption.fitted)
        result = Fit(
            store.out,
            trials,
            parameters,
            adoption.fit,
            adoption.fitted,
            adoption.trial,
            adoption.candidates,
            runner.ran,
            runner.failed,
            time.perf_counter() - started,
            executor.description,
        )
        write(result, calibration)
        store.update(status="complete", best_trial=result.best_trial)
    if echo:
        echo(result.line())
        if result.failed:
            echo(f"popsim calibrate: {result.failed} runs failed: see {store.out / 'failures'}")
    return result


def planned_runs(calibration: Calibration) -> int:
    """Runs of a full calibration, for the progress bar (failures may make it fewer)."""
    spec = calibration.spec
    total, seeds = spec.trials * spec.replicates, spec.replicates
    for rung in spec.rungs:
        total += min(rung.keep, spec.trials) * (rung.replicates - seeds)
        seeds = rung.replicates
    start = calibration.base_values() is not None
    return total + spec.check_replicates * (spec.candidates + start)


class Runner:
    """Runs tasks on the executor into a store, counting runs and failures on a progress bar."""

    def __init__(self, executor: Any, job: Job, names: list[str], done: set[int]) -> None:
        self.executor, self.job, self.names, self.done = executor, job, names, done
        self.ran = self.failed = 0
        self.progress: Any = None

    def bar(self, total: int, initial: int, desc: str, show: bool) -> None:
        """Start the progress bar (on stderr; hidden unless ``show``)."""
        from tqdm import tqdm

        self.progress = tqdm(
            total=total, initial=initial, unit="run", desc=desc, file=sys.stderr, disable=not show
        )

    def run(self, tasks: list[Task], into: sweepstore.Store) -> None:
        """Run ``tasks``, writing each run (or its failure) into ``into``."""
        for _, done in self.executor.run(self.job, tasks, into, self.names):
            if not done:
                self.failed += 1
            self.ran += 1
            self.progress.update()

    def run_missing(self, tasks: list[Task], store: sweepstore.Store) -> None:
        """Run the calibration runs of ``tasks`` not yet on disk (after checking those that are)."""
        check_replay(store, tasks, self.names)
        self.run([t for t in tasks if t.index not in self.done], store)


def _search(
    study: Any, calibration: Calibration, store: sweepstore.Store, runner: Runner, runs: Runs
) -> None:
    """Ask, run and tell ``trials`` trials a batch at a time."""
    spec = calibration.spec
    stride = spec.max_replicates
    seeds = [run_seed(spec.seed, r) for r in range(spec.replicates)]
    for first in range(0, spec.trials, spec.batch):
        size = min(spec.batch, spec.trials - first)
        asked = [study.ask(_distributions(calibration)) for _ in range(size)]
        tasks = [
            Task(t.number * stride + r, t.number, r, seed, t.params)
            for t in asked
            for r, seed in enumerate(seeds)
        ]
        runner.run_missing(tasks, store)
        for trial in asked:
            runs.read(trial.number, spec.replicates)
        variance = runs.variance()[0]  # pooled over the trials so far
        for trial in asked:
            _tell(study, trial, runs.loss(trial.number, spec.replicates, variance))


# --- the sampler -----------------------------------------------------------------------------


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna without a log line per trial or experimental-feature warnings, restored after."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)


def _study(calibration: Calibration) -> Any:
    """A fresh Optuna study with the calibration's sampler; the base values are trial 0."""
    import optuna

    spec = calibration.spec
    if spec.sampler == "tpe":
        sampler = optuna.samplers.TPESampler(
            seed=spec.seed,
            n_startup_trials=spec.startup_trials,
            multivariate=True,
            constant_liar=True,
        )
    elif spec.sampler == "qmc":
        sampler = optuna.samplers.QMCSampler(seed=spec.seed, qmc_type="sobol")
    else:
        sampler = optuna.samplers.RandomSampler(seed=spec.seed)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    base = calibration.base_values()
    if base is not None:
        study.enqueue_trial(base)
    return study


def _distributions(calibration: Calibration) -> dict[str, Any]:
    from optuna.distributions import FloatDistribution, IntDistribution

    popsim_model = calibration.spec.model == "popsim"
    return {
        name: IntDistribution(int(p.low), int(p.high))
        if popsim_model and is_integer_field(name)
        else FloatDistribution(p.low, p.high)
        for name, p in calibration.spec.parameters.items()
    }


def _tell(study: Any, trial: Any, value: float) -> None:
    """Tell the sampler a trial's loss (NaN: the trial failed)."""
    from optuna.trial import TrialState

    if np.isfinite(value):
        study.tell(trial, value)
    else:
        study.tell(trial, state=TrialState.FAIL)


# --- reporting -------------------------------------------------------------------------------


def _parameters(
    calibration: Calibration, study: Any, trials: pd.DataFrame, fitted: dict[str, Any]
) -> pd.DataFrame:
    """Each parameter: range searched, start, fitted value, near-best range, importance."""
    near = trials[trials["near_best"]]
    base = calibration.base_values() or {}
    importance = _importance(study)
    rows = []
    for name, p in calibration.spec.parameters.items():
        rows.append(
            {
                "parameter": name,
                "low": p.low,
                "high": p.high,
                "start": float(base.get(name, np.nan)),
                "fitted": float(fitted[name]),
                "near_low": near[name].min(),
                "near_high": near[name].max(),
                "near_trials": len(near),
                "importance": importance.get(name, np.nan),
            }
        )
    return pd.DataFrame(rows)


def _importance(study: Any) -> dict[str, float]:
    """Each parameter's PED-ANOVA importance for reaching the best 10 % of losses (sum 1).

    (Watanabe et al. 2023; empty with too few trials.)
    """
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 4:
        return {}
    evaluator = optuna.importance.PedAnovaImportanceEvaluator()
    return optuna.importance.get_param_importances(study, evaluator=evaluator)


def _manifest(calibration: Calibration) -> dict[str, Any]:
    spec = calibration.spec
    return {
        "kind": "calibration",
        "calibration": calibration.name,
        "calibration_file": str(calibration.path),
        "calibration_hash": calibration.digest,
        "identity": calibration.identity,
        "scenario": calibration.scenario.name if calibration.scenario is not None else None,
        "parameter_names": list(spec.parameters),
        "n_runs": spec.trials * spec.replicates,
    }
