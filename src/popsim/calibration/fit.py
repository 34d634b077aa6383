"""Calibration: fit a scenario's uncertain parameters to targets with Optuna, on any executor.

Each trial is a parameter set proposed by the sampler: by default Optuna's TPE, a Bayesian
optimisation, whose first trial is the base scenario's own values. A trial runs the same
``replicates`` seeds as every other trial (common random numbers: the loss then compares
parameter sets, not random draws), and its loss is :func:`popsim.calibration.targets.loss` of the
figures' means over those seeds. Trials are proposed ``batch`` at a time (TPE's constant
liar keeps a batch apart) and their runs go to the executors of :mod:`popsim.sweeps.executors`.
The best trial's values, rounded to 4 significant digits, are then checked on
``check_replicates`` fresh seeds, and so are the base values.

The output folder::

    OUT/manifest.json               identity (calibration hash, scenario, targets, code)
    OUT/runs/run=<i>.parquet        run i = trial * replicates + replicate: ids, parameter
                                    values and figures (one row), written atomically
    OUT/failures/run=<i>.json       a run that raised: its parameters and the error
    OUT/check/runs/run=<i>.parquet  the fitted values on fresh seed i, then the base values
    OUT/trials.parquet              one row per trial: state, loss, values, mean figures
    OUT/parameters.parquet          each parameter: range, base, fitted, near-best range,
                                    importance
    OUT/fit.parquet                 the check against the targets (popsim.calibration.targets.table)
    OUT/fitted.yaml                 a scenario that ``extends`` the base with the fitted values
    OUT/report.md                   all of it for a reader

(:mod:`popsim.calibration.report` writes the last five and reads them back: :func:`read_fit`.)

A rerun resumes: the sampler is rebuilt from the seed and replays its proposals, telling
the losses of trials whose runs are on disk without running them again (its proposals
depend only on its seed and the losses it was told). For the same reason a rerun with more
``trials`` (or ``check_replicates``) continues a finished calibration.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from popsim.calibration.report import NEAR_LEVEL, Fit, read_fit, write
from popsim.calibration.spec import Calibration, load_calibration
from popsim.calibration.targets import CalibrationError, loss, table, zscores
from popsim.sweeps import store as sweepstore
from popsim.sweeps.design import is_integer_field, run_seed
from popsim.sweeps.executors import Job, Task, execute, open_executor

__all__ = ["Fit", "calibrate", "read_fit"]

CHECK_KEY = 1 << 32  #: check seed r is the calibration seed's child CHECK_KEY + r


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
    base = calibration.base_values()
    started = time.perf_counter()
    with store.locked():
        store.prepare(_manifest(calibration))
        check.make_folders()
        done = store.done()
        for note in store.notes if echo else ():
            echo(f"popsim calibrate: {note}")
        n_check = spec.check_replicates * (1 if base is None else 2)
        with _quiet_optuna(), open_executor(workers, scheduler) as executor:
            study = _study(calibration)
            if echo:
                echo(
                    f"popsim calibrate {calibration.name}: {spec.trials} trials x "
                    f"{spec.replicates} seeds, {len(done)} runs already done, with "
                    f"{executor.description} -> {store.out}"
                )
            runner = _Runner(executor, job, list(spec.parameters))
            runner.bar(
                spec.trials * spec.replicates + n_check, len(done), calibration.name, progress
            )
            try:
                trials = _search(study, calibration, store, runner, done)
                best = _best(trials, store)
                fitted = _rounded(study.trials[int(best["trial"])].params)
                check_tasks = _check_tasks(spec, int(best["trial"]), fitted, base)
                reuse = _reusable(check, check_tasks, list(spec.parameters))
                runner.progress.update(len(reuse))
                runner.run([t for t in check_tasks if t.index not in reuse], check)
            finally:
                runner.progress.close()
            fit = _fit_table(check, check_tasks, calibration)
            parameters = _parameters(calibration, study, trials, best, fitted)
        result = Fit(
            store.out,
            trials,
            parameters,
            fit,
            fitted,
            int(best["trial"]),
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


class _Runner:
    """Runs tasks on the executor into a store, counting runs and failures on a progress bar."""

    def __init__(self, executor: Any, job: Job, names: list[str]) -> None:
        self.executor, self.job, self.names = executor, job, names
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
        for task, ok, value in self.executor.map(execute, self.job, tasks):
            if ok and value[0]:
                into.write_run(task, self.names, value[1])
            else:
                into.write_failure(task, value[1] if ok else repr(value))
                self.failed += 1
            self.ran += 1
            self.progress.update()


def _search(
    study: Any, calibration: Calibration, store: sweepstore.Store, runner: _Runner, done: set
) -> pd.DataFrame:
    """Ask, run and tell ``trials`` trials a batch at a time; one row per trial."""
    spec = calibration.spec
    seeds = [run_seed(spec.seed, r) for r in range(spec.replicates)]
    rows = []
    for first in range(0, spec.trials, spec.batch):
        size = min(spec.batch, spec.trials - first)
        asked = [study.ask(_distributions(calibration)) for _ in range(size)]
        tasks = [
            Task(t.number * len(seeds) + r, t.number, r, seed, t.params)
            for t in asked
            for r, seed in enumerate(seeds)
        ]
        _check_replay(store, tasks, runner.names)
        runner.run([t for t in tasks if t.index not in done], store)
        rows += [_tell(study, trial, store, calibration, len(seeds)) for trial in asked]
    return pd.DataFrame(rows)


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


def _tell(study: Any, trial: Any, store: sweepstore.Store, cal: Calibration, n: int) -> dict:
    """Tell the sampler a trial's loss (or that it failed); the trial's row."""
    from optuna.trial import TrialState

    row: dict[str, Any] = {"trial": trial.number, **trial.params}
    runs = [_row(store.runs / f"run={trial.number * n + r}.parquet") for r in range(n)]
    if any(r is None for r in runs):
        study.tell(trial, state=TrialState.FAIL)
        return row | {"state": "failed", "loss": np.nan, "note": "a run raised (failures/)"}
    means = {
        t.name: float(pd.Series([r[t.name] for r in runs], dtype=float).mean()) for t in cal.targets
    }
    value = loss(means, cal.targets)
    row |= means
    if not np.isfinite(value):
        missing = [k for k, z in zscores(means, cal.targets).items() if not np.isfinite(z)]
        study.tell(trial, state=TrialState.FAIL)
        return row | {"state": "failed", "loss": np.nan, "note": f"no figure: {missing}"}
    study.tell(trial, value)
    return row | {"state": "complete", "loss": value, "note": ""}


def _row(path: Path) -> dict[str, Any] | None:
    """A run's row as Python values, or None if the run has no file."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()[0] if path.is_file() else None


def _check_replay(store: sweepstore.Store, tasks: list[Task], names: Sequence[str]) -> None:
    """A run on disk must have been made with the values the sampler proposes now."""
    for task in tasks:
        row = _row(store.runs / f"run={task.index}.parquet")
        if row is not None and any(row[n] != task.overrides[n] for n in names):
            raise CalibrationError(
                f"--out {store.out}: run {task.index} on disk was made with other values than "
                "the sampler proposes now; choose another folder, or delete that one."
            )


def _reusable(check: sweepstore.Store, tasks: list[Task], names: Sequence[str]) -> set[int]:
    """The check runs on disk made with these values and seeds."""
    reuse, done = set(), check.done()  # intact runs only
    for task in tasks:
        row = _row(check.runs / f"run={task.index}.parquet") if task.index in done else None
        if row is not None and row["seed"] == task.seed:
            if all(row[n] == task.overrides[n] for n in names):
                reuse.add(task.index)
    return reuse


def _best(trials: pd.DataFrame, store: sweepstore.Store) -> pd.Series:
    complete = trials[trials["state"] == "complete"]
    if complete.empty:
        why = trials["note"].value_counts().index[0]
        raise CalibrationError(
            f"{store.out}: every trial failed, most often: {why} (runs that raised are in "
            f"{store.out / 'failures'}; a missing figure needs a run that makes it, e.g. "
            "compliance needs the regime)."
        )
    return complete.loc[complete["loss"].idxmin()]


def _rounded(params: dict[str, Any]) -> dict[str, Any]:
    """The values rounded to 4 significant digits (integers stay whole)."""
    return {k: v if isinstance(v, int) else float(f"{v:.4g}") for k, v in params.items()}


def _check_tasks(spec: Any, best: int, fitted: dict, base: dict | None) -> list[Task]:
    """The fitted values (runs 0..n-1) and the base values (n..2n-1) on the fresh seeds."""
    n = spec.check_replicates
    seeds = [run_seed(spec.seed, CHECK_KEY + r) for r in range(n)]
    tasks = [Task(r, best, r, seed, fitted) for r, seed in enumerate(seeds)]
    if base is not None:
        tasks += [Task(n + r, 0, r, seed, base) for r, seed in enumerate(seeds)]
    return tasks


def _fit_table(check: sweepstore.Store, tasks: list[Task], cal: Calibration) -> pd.DataFrame:
    """:func:`~.targets.table` of the fitted values, with the base values' mean and z."""
    figures: dict[bool, list[dict]] = {False: [], True: []}
    n = cal.spec.check_replicates
    for task in tasks:
        row = _row(check.runs / f"run={task.index}.parquet")
        if row is not None:
            figures[task.index >= n].append({t.name: row[t.name] for t in cal.targets})
    fit = table(figures[False], cal.targets)
    if figures[True]:
        base = table(figures[True], cal.targets)
        at = fit.columns.get_loc("within") + 1
        fit.insert(at, "base_mean", base["model_mean"])
        fit.insert(at + 1, "base_z", base["z"])
    return fit


# --- reporting -------------------------------------------------------------------------------


def _parameters(
    calibration: Calibration,
    study: Any,
    trials: pd.DataFrame,
    best: pd.Series,
    fitted: dict[str, Any],
) -> pd.DataFrame:
    """Each parameter: range searched, base value, fitted value, near-best range, importance."""
    from scipy import stats

    complete = trials[trials["state"] == "complete"]
    names = list(calibration.spec.parameters)
    threshold = float(best["loss"]) + stats.chi2.ppf(NEAR_LEVEL, len(names))
    near = complete[complete["loss"] <= threshold]
    base = calibration.base_values() or {}
    importance = _importance(study)
    rows = []
    for name, p in calibration.spec.parameters.items():
        rows.append(
            {
                "parameter": name,
                "low": p.low,
                "high": p.high,
                "base": float(base.get(name, np.nan)),
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
