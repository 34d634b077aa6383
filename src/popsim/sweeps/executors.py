"""One run function, and the executors that run it many times: in-process, local processes, Dask.

Every path of a sweep calls the same :func:`run_one` (or a pluggable function with its
signature). An executor only decides *where* a run happens; a run's result depends on its
inputs alone (the scenario, the overrides and the seed the sweep derived from its own seed
and the run's index), so the tables are identical whichever executor and however many
workers ran them.

Executors (:func:`open_executor`):

- ``workers=1``: in this process, one run after another;
- ``workers=N`` (default: one per core): ``concurrent.futures.ProcessPoolExecutor`` with
  ``spawn``ed workers (no fork of a process with threads);
- ``scheduler="tcp://host:port"``, a ``dask.distributed.Client``, or ``"local-dask"`` (a
  ``LocalCluster`` of ``workers`` single-threaded processes started for the sweep): see
  :mod:`popsim.sweeps.cluster`, where the workers write the runs into the output folder.

:meth:`Executor.run` runs a sweep's or a calibration's tasks into its run store.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from popsim.model.start import key
from popsim.outputs import burn_in
from popsim.outputs.results import TABLES, flat
from popsim.outputs.statistics import dated, dated_name, statistics
from popsim.scenario.demography import Scenario
from popsim.scenario.loading import OVERRIDE, ScenarioError, load_scenario, merge, nest, validate

if TYPE_CHECKING:
    from popsim.sweeps.store import Store

#: the recorded outputs when none are named: every calibration figure and the annual table
DEFAULT_OUTPUTS = ("statistics", "annual")
LOCAL_DASK = "local-dask"

RunFunction = Callable[..., Mapping[str, Any]]


def cores() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# --- the run function ---------------------------------------------------------------------


def apply_overrides(
    scenario: Scenario, overrides: Mapping[str, Any] | None, data: dict | None = None
) -> Scenario:
    """``scenario`` with dotted ``overrides`` applied and validated (ScenarioError if invalid).

    ``data``, the scenario's ``model_dump()``, may be passed to save dumping it again.
    """
    if not overrides:
        return scenario
    origins: dict = {}
    merged = merge(
        scenario.model_dump() if data is None else data, nest(overrides), origins, OVERRIDE
    )
    return validate(merged, origins)


def run_one(
    scenario: Scenario | str | Path | None,
    seed: int,
    overrides: Mapping[str, Any] | None = None,
    n_agents: int | None = None,
    years: int | None = None,
    outputs: Sequence[str] = DEFAULT_OUTPUTS,
) -> dict[str, pd.DataFrame | float]:
    """Simulate one scenario with one seed and return the named outputs.

    Args:
        scenario: a Scenario, a YAML path, or None for the built-in baseline.
        seed: the run's seed.
        overrides: dotted field paths and values applied to the scenario.
        n_agents: initial persons (default: the scenario's).
        years: simulated years (default: the scenario's).
        outputs: names of :func:`popsim.outputs.statistics.statistics` figures (``"statistics"``
            for all of them), of dated figures (``srb@2020``: ``statistics.dated``) and of
            :class:`popsim.outputs.results.Result` tables (``"annual"``,
            ``"kpis"``, ...).

    Returns:
        Each output by name: a float for a figure (NaN if the run has none, e.g. compliance
        without the regime), a flat DataFrame for a table.
    """
    from popsim.outputs.runner import simulate

    if isinstance(scenario, Scenario):
        scenario = apply_overrides(scenario, overrides)
    else:
        scenario = load_scenario(scenario, overrides)
    result = simulate(scenario, seed=seed, n_agents=n_agents, years=years)
    stats = {}
    if any(name not in TABLES for name in outputs):
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0: no such births, NaN
            stats = statistics(result)
            stats |= dated(result, [n for n in outputs if dated_name(n) is not None])
    out: dict[str, pd.DataFrame | float] = {}
    for name in outputs:
        if name in TABLES:
            out[name] = flat(getattr(result, name))
        elif name == "statistics":
            out |= stats
        else:
            out[name] = stats.get(name, float("nan"))
    return out


def resolve(model: str) -> RunFunction:
    """The run function named ``"popsim"`` (:func:`run_one`) or ``"package.module:function"``."""
    if model == "popsim":
        return run_one
    module, sep, name = model.partition(":")
    if not sep or not module or not name:
        raise ScenarioError(
            f"model = {model!r}: name a run function as 'package.module:function', or 'popsim'."
        )
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ScenarioError(f"model = {model!r}: cannot import it ({exc}).") from None
    if not callable(fn):
        raise ScenarioError(f"model = {model!r}: not a function.")
    return fn


@dataclass(frozen=True)
class Task:
    """One run of a sweep: its index, design point, replicate, seed and parameter values."""

    index: int
    point: int
    replicate: int
    seed: int
    overrides: Mapping[str, Any]


@dataclass(frozen=True)
class Job:
    """What every run of a sweep shares: the run function, base scenario, size and outputs.

    ``burn_in_keys``: the burn-ins that more than one run shares (:func:`shared_burn_ins`),
    kept in memory and in ``burn_in_folder`` by the workers; the others are not kept.
    """

    model: str | RunFunction
    scenario: Scenario | None
    n_agents: int | None
    years: int | None
    outputs: tuple[str, ...]
    burn_in_folder: str | None = None
    burn_in_keys: frozenset[str] = frozenset()


def shared_burn_ins(job: Job, tasks: Iterable[Task]) -> frozenset[str]:
    """The keys of the burn-ins (:func:`popsim.model.start.key`) of more than one task.

    Sweeps and calibrations burn in under each point's own values (``OWN_PAST``), so points
    share a burn-in only where they differ in what comes after the start.
    """
    from popsim.outputs.runner import resize

    if job.model != "popsim" or job.scenario is None:
        return frozenset()
    scenarios: dict[str, Scenario] = {}
    counts: Counter[str] = Counter()
    for task in tasks:
        point = json.dumps(task.overrides, sort_keys=True, default=str)
        if point not in scenarios:
            scenario = apply_overrides(job.scenario, task.overrides)
            scenarios[point] = resize(scenario, job.n_agents, job.years)
        counts[key(scenarios[point], task.seed)] += 1
    return frozenset(k for k, n in counts.items() if n > 1)


def execute(job: Job, task: Task) -> tuple[bool, Any]:
    """Run one task: ``(True, outputs)``, or ``(False, traceback text)`` if the run raised."""
    try:
        fn = resolve(job.model) if isinstance(job.model, str) else job.model
        with burn_in.sharing(job.burn_in_folder, job.burn_in_keys):
            out = fn(
                job.scenario, task.seed, dict(task.overrides), job.n_agents, job.years, job.outputs
            )
        return True, dict(out)
    except Exception:  # recorded by the sweep, which goes on
        return False, traceback.format_exc()


def lost(exc: BaseException) -> str:
    """The error recorded for a run that the executor lost (a worker died)."""
    return f"{type(exc).__name__}: {exc}"


# --- executors ----------------------------------------------------------------------------

_shared: Any = None


def _init_worker(shared: Any, parent: int) -> None:
    global _shared
    _shared = shared
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    """End this worker once its sweep's process is gone (killed), not leave it orphaned."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _call(fn: Callable, item: Any) -> Any:
    return fn(_shared, item)


class Executor:
    """Runs ``fn(shared, item)`` for every item; yields ``(item, ok, value or exception)``.

    Results come in the order they finish; ``ok`` is False only when the executor itself
    failed to run the item (a worker died), not when ``fn`` returned a failure.
    """

    description = "1 worker in this process"

    def map(self, fn: Callable, shared: Any, items: Iterable) -> Iterator[tuple[Any, bool, Any]]:
        """Run serially in this process."""
        for item in items:
            try:
                yield item, True, fn(shared, item)
            except Exception as exc:
                yield item, False, exc

    def run(
        self, job: Job, tasks: Iterable[Task], store: Store, names: Sequence[str]
    ) -> Iterator[tuple[Task, bool]]:
        """Run ``tasks`` into ``store``; yield ``(task, done)`` once each is written.

        The outputs come back to this process, which writes them (``Store.record``); a
        failed run is written as a failure, and ``done`` is False.
        """
        for task, ok, value in self.map(execute, job, tasks):
            ran, result = value if ok else (False, lost(value))
            yield task, store.record(task, names, ran, result)

    def close(self) -> None:
        """Stop the workers (none here)."""


class LocalExecutor(Executor):
    """A pool of ``workers`` spawned processes; ``shared`` is sent once to each worker.

    The pool outlives one :meth:`map` (a calibration maps batch after batch) until
    :meth:`close`, or until ``map`` is given another ``shared`` object.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.description = f"{workers} local processes"
        self._pool: ProcessPoolExecutor | None = None
        self._shared: Any = None

    def map(self, fn: Callable, shared: Any, items: Iterable) -> Iterator[tuple[Any, bool, Any]]:
        """Run in the process pool."""
        items = list(items)
        if not items:
            return
        if self._pool is None or self._shared is not shared:
            self.close()
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=get_context("spawn"),
                initializer=_init_worker,
                initargs=(shared, os.getpid()),
            )
            self._shared = shared
        futures = {self._pool.submit(_call, fn, item): item for item in items}
        broken = False
        try:
            for future in as_completed(futures):
                try:
                    yield futures[future], True, future.result()
                except Exception as exc:  # BrokenProcessPool: a worker died
                    broken = True
                    yield futures[future], False, exc
        finally:
            for future in futures:
                future.cancel()
            if broken:
                self.close()

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


@contextmanager
def open_executor(workers: int | None = None, scheduler: Any = None) -> Iterator[Executor]:
    """The executor for ``workers`` and ``scheduler``, closed (cluster stopped) on exit.

    Args:
        workers: local processes, or the workers of a ``"local-dask"`` cluster (default:
            one per core); 1 runs in this process. Ignored for a given scheduler.
        scheduler: None (local processes), ``"local-dask"``, a scheduler address such as
            ``"tcp://host:8786"``, or a ``dask.distributed.Client`` (left open).

    Raises:
        ScenarioError: dask is not installed, or the scheduler cannot be reached.
    """
    workers = cores() if workers is None else workers
    if workers < 1:
        raise ScenarioError(f"--workers {workers}: must be at least 1.")
    if scheduler is None:
        if workers == 1:
            yield Executor()
            return
        local = LocalExecutor(workers)
        try:
            yield local
        finally:
            local.close()
        return
    if importlib.util.find_spec("distributed") is None:
        raise ScenarioError("--scheduler needs dask.distributed: pip install 'dask[distributed]'.")
    from popsim.sweeps.cluster import open_dask

    with open_dask(workers, scheduler) as executor:
        yield executor
