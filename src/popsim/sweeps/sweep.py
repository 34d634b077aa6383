"""Sweeps: a base scenario over a design of parameter values and replicates, on any executor.

A sweep file (``params/sweeps/*.yaml``, fields in :class:`SweepSpec`)::

    scenario: ../baseline.yaml        # base scenario, relative to this file
    parameters:                       # dotted scenario field: its values
      policy.decision.son_preference: {low: 0.4, high: 0.8}   # uniform on a range
      policy.rules.regime: [one_child, one_and_half]          # listed values
      demography.srb: {dist: truncnorm, mean: 1.06, sd: 0.01, low: 1.03, high: 1.09}
    design: morris                    # grid, latin_hypercube, sobol or morris
    samples: 10                       # LHS points, Sobol base samples, Morris trajectories
    replicates: 2                     # seeds per design point
    seed: 2009
    n_agents: 2000
    years: 5
    outputs: [cbr, tfr_true, srb, compliance_true, annual]

Every design point is validated against the scenario schema before any run starts. Run
``i`` is replicate ``r`` of point ``p`` (``i = p * replicates + r``); its seed is drawn
from ``SeedSequence(seed, spawn_key=(r,))``, so replicate r of every point shares its
random numbers (``seeds: common``, the model's common random numbers), or from
``spawn_key=(i,)`` with ``seeds: independent``. Seeds never depend on the executor or
worker, so the tables are identical whichever ran them.

The pieces: :mod:`popsim.sweeps.spec` (the file's schema and its error messages),
:mod:`popsim.sweeps.design` (checks, design, values, seeds, runs), :mod:`popsim.sweeps.executors`
(the run function and where it runs), :mod:`popsim.sweeps.store` (the output folder, which a
rerun resumes by running only the runs without an intact file) and :mod:`popsim.sweeps.sensitivity`
(SALib designs and indices). Command line: :func:`main`, ``popsim sweep FILE [--out DIR]
[--workers N] [--scheduler ADDR|local-dask]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from popsim.outputs import guards
from popsim.scenario.loading import ScenarioError, load_scenario, read_yaml
from popsim.scenario.timeline import OWN_PAST
from popsim.sweeps import store as sweepstore
from popsim.sweeps.design import Plan, check, confirm_runs, n_runs, plan, run_seed
from popsim.sweeps.executors import (
    DEFAULT_OUTPUTS,
    LOCAL_DASK,
    Job,
    cores,
    open_executor,
    shared_burn_ins,
)
from popsim.sweeps.spec import SweepError, SweepSpec, parse
from popsim.sweeps.store import read_failures, read_manifest, read_runs, read_table  # noqa: F401
from popsim.version import code_version

__all__ = [
    "DEFAULT_OUTPUTS",
    "Sweep",
    "SweepError",
    "SweepSpec",
    "load_sweep",
    "main",
    "Plan",
    "plan",
    "read_failures",
    "read_manifest",
    "read_runs",
    "read_table",
    "run_seed",
    "run_sweep",
]


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: its spec, file, base scenario and run function."""

    spec: SweepSpec
    name: str
    path: Path | None = None
    scenario: Any = None
    model: str | Callable = "popsim"
    file_sha256: str | None = None

    @property
    def identity(self) -> dict[str, Any]:
        """What must match for an output folder's runs to be reused."""
        model = self.model if isinstance(self.model, str) else _qualname(self.model)
        return {
            "spec": self.spec.model_dump(mode="json", exclude={"description"}),
            "scenario_hash": self.scenario.digest() if self.scenario is not None else None,
            "model": model,
            "code_version": code_version(),  # hash of the package code: never mix models
        }

    @property
    def digest(self) -> str:
        """SHA-256 of :attr:`identity`."""
        text = json.dumps(self.identity, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def _qualname(fn: Callable) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


def load_sweep(path: str | Path, run: Callable | None = None) -> Sweep:
    """Read and validate a sweep file and its base scenario.

    Args:
        path: the sweep YAML file.
        run: a run function to use instead of the file's ``model`` (same signature as
            :func:`popsim.sweeps.executors.run_one`); it must be importable by worker processes.

    Raises:
        SweepError: naming the file, the field, the value and what is allowed (a bad
            base scenario raises the scenario's own ScenarioError).
    """
    path = Path(path)
    data = read_yaml(path, "sweep", SweepError)
    spec = parse(path, data, SweepSpec, "sweep", SweepError)
    model = run if run is not None else spec.model
    problem = check(spec, popsim_model=model == "popsim")
    if problem:
        raise SweepError(f"{path}: {problem}")
    scenario = None
    if spec.scenario is not None:
        scenario_path = path.parent / spec.scenario
        if not scenario_path.is_file():
            raise SweepError(
                f"{path}: field 'scenario' = {spec.scenario!r}: {scenario_path} does not exist "
                "(the path is relative to the sweep file)."
            )
        scenario = load_scenario(scenario_path, OWN_PAST)
    elif model == "popsim":
        scenario = load_scenario(None, OWN_PAST)
    if isinstance(model, str) and model != "popsim":
        from popsim.sweeps.executors import resolve

        try:
            resolve(model)
        except ScenarioError as exc:
            raise SweepError(f"{path}: field {exc}") from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Sweep(spec, path.stem, path.resolve(), scenario, model, digest)


def run_sweep(
    sweep: Sweep | str | Path,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: Any = None,
    run: Callable | None = None,
    progress: bool = True,
    echo: Callable[[str], Any] | None = print,
    allow_large: bool = False,
) -> sweepstore.Summary:
    """Run every run of ``sweep`` not yet in ``out``, on the chosen executor.

    Args:
        sweep: a :class:`Sweep` or a sweep file.
        out: the output folder; an existing one must hold the same sweep (it is resumed).
        workers: local processes (1: in this process), or workers of a local Dask cluster;
            default one per core.
        scheduler: None, ``"local-dask"``, a scheduler address or a dask Client.
        run: a run function replacing the file's ``model`` (see :func:`load_sweep`).
        progress: show a progress bar over runs on stderr.
        echo: prints the start and end lines (None: silent).
        allow_large: confirm a sweep of more than ``LARGE_RUNS`` (100,000) runs, which is
            otherwise refused before its design is drawn.

    Returns:
        The :class:`Summary`; its ``failed`` lists the runs that raised (each recorded in
        ``out/failures/``), and the other runs completed.
    """
    from tqdm import tqdm

    if workers is not None and workers < 1:
        raise SweepError(f"--workers {workers}: must be at least 1.")
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep, run)
    confirm_runs(n_runs(sweep.spec), allow_large, f"sweep {sweep.path or sweep.name}")
    the_plan = plan(sweep)
    spec = sweep.spec
    store = sweepstore.Store(Path(out))
    started = time.perf_counter()
    with store.locked():
        store.prepare(sweepstore.manifest(sweep, the_plan), sweepstore.design(the_plan))
        done = store.done()
        for note in store.notes if echo else ():
            echo(f"popsim sweep: {note}")
        todo = [t for t in the_plan.tasks if t.index not in done]
        outputs = tuple(spec.outputs)
        job = Job(sweep.model, sweep.scenario, spec.n_agents, spec.years, outputs)
        job = replace(
            job, burn_in_folder=str(store.burn_ins), burn_in_keys=shared_burn_ins(job, todo)
        )
        failed: list[int] = []
        nothing = not todo  # no workers or cluster to start
        with open_executor(1 if nothing else workers, None if nothing else scheduler) as executor:
            if echo:
                echo(
                    f"popsim sweep {sweep.name}: {len(the_plan.tasks)} runs, {len(done)} already "
                    f"done, {len(todo)} to run with {executor.description} -> {store.out}"
                )
            bar = tqdm(
                total=len(the_plan.tasks),
                initial=len(the_plan.tasks) - len(todo),
                unit="run",
                desc=sweep.name,
                file=sys.stderr,
                disable=not progress,
            )
            try:
                for task, written in executor.run(job, todo, store, the_plan.names):
                    if not written:
                        failed.append(task.index)
                    bar.update()
            finally:
                bar.close()
        summary = sweepstore.Summary(
            store.out,
            len(the_plan.points),
            len(the_plan.tasks),
            len(done),
            len(todo),
            sorted(failed),
            time.perf_counter() - started,
            executor.description,
        )
        store.finish(summary)
    if echo:
        echo(summary.line())
        if failed:
            echo(f"popsim sweep: failed runs {sorted(failed)[:20]}: see {store.out / 'failures'}")
    return summary


# --- command line --------------------------------------------------------------------------


#: each command's folders in params/ (its files) and in results/ (its default output)
_FOLDERS = {"sweep": ("sweeps", "sweeps"), "calibration": ("calibration", "calibrations")}
_VERBS = {"sweep": "sweep", "calibration": "calibrate"}


def add_arguments(
    parser: argparse.ArgumentParser, command: str = "sweep"
) -> argparse.ArgumentParser:
    """Add ``FILE --out --workers --scheduler --quiet --allow-large`` (sweep and calibrate)."""
    files, outputs = _FOLDERS[command]
    parser.add_argument("file", metavar="FILE", help=f"{command} file (params/{files}/*.yaml)")
    parser.add_argument(
        "--out", help=f"output folder (default: results/{outputs}/<file name without .yaml>)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"local processes, or workers of --scheduler {LOCAL_DASK} (default: {cores()}, "
        "one per core; 1 runs in this process)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDR",
        help=f"run on Dask: a scheduler address such as tcp://host:8786, or {LOCAL_DASK!r} "
        "to start a local cluster",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--allow-large",
        action="store_true",
        help="confirm more than 100,000 runs (refused without it)",
    )
    return parser


def from_args(args: argparse.Namespace, command: str = "sweep", run: Callable | None = None) -> int:
    """Run ``popsim sweep`` (or ``command`` with ``run``, same arguments); the exit code.

    Bad input exits with 2, an interruption with 130; a rerun resumes.
    """
    run = run_sweep if run is None else run
    out = args.out or str(Path("results") / _FOLDERS[command][1] / Path(args.file).stem)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main_thread else None
    try:
        if main_thread:
            exit_on_sigterm()
        if args.workers is not None and args.workers < 1:
            raise SweepError(f"--workers {args.workers}: must be at least 1.")
        guards.check_writable(out, "--out")
        summary = run(
            args.file,
            out,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.quiet,
            allow_large=args.allow_large,
        )
    except ScenarioError as exc:
        print(f"popsim {_VERBS[command]}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"popsim {_VERBS[command]}: interrupted; run it again to resume: {out}",
            file=sys.stderr,
        )
        return 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    return summary.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """``popsim sweep FILE [--out DIR] [--workers N] [--scheduler ADDR|local-dask]``."""
    parser = argparse.ArgumentParser(
        prog="popsim sweep", description="run a parameter sweep (resumes an interrupted one)"
    )
    return from_args(add_arguments(parser).parse_args(argv))


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so a terminated sweep stops its workers on the way out.

    For the main thread of a command-line process only (``popsim sweep``); a killed
    (SIGKILL) sweep's local workers end by themselves within a second.
    """
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
