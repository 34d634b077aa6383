"""Scenario batches: ``scenario.ipynb`` once per scenario through papermill, then a report.

The batch folder ``DIR``::

    DIR/NAME/                  one scenario's output (see popsim.outputs.replicates): tables/,
                               manifest.json (written last)
    DIR/NAME/scenario.ipynb    the executed notebook, renamed into place when it succeeded
    DIR/NAME/scenario.html     scenario.ipynb without its code, figures embedded
    DIR/NAME/scenario.failed.ipynb   the executed notebook of a failed run, for reading
    DIR/NAME/log.txt           start and end times and papermill's output, one block per run
    DIR/NAME/csv/TABLE.csv     with ``csv=True``: each of the scenario's tables as CSV
    DIR/compare.ipynb          the executed comparison notebook, for working on in JupyterLab
    DIR/report.html            the report (popsim.analysis.document): findings, design,
                               effects, costs, side effects, methods; one self-contained file
    DIR/.burn-in/KEY.burn-in   the states at month 0 the scenarios share (one per seed under
                               the baseline burn-in policy; popsim.outputs.burn_in): computed
                               by the first scenario that needs one, read by the others

``ensemble`` (``--ensemble``) runs every scenario also under each of a calibration's drawn
near-best parameter sets, named ``NAME.set<trial>`` (:mod:`popsim.analysis.ensemble`).
``overrides`` (``popsim batch --set``) change every scenario; ``vary`` (``--vary``) runs
each scenario as it is and once per value of one field, named ``NAME_FIELD_VALUE`` (a
dose-response against the scenario itself).

A scenario is skipped when its folder is complete for the request
(:func:`popsim.outputs.replicates.why_incomplete`: same scenario hash, seeds, size and code
version, and every table matches the size and hash in its manifest) and its executed
notebook is there with the same parameters (its ``scenario.html`` is written if missing);
an output that is not is recomputed, and the batch says why. Notebooks, pages and the report
are written to a temporary name and renamed (the previous report stays until the new one is
in place), and replicates writes the manifest last, so a batch killed at any moment leaves
nothing half-written that looks complete. One batch at a time writes into a folder
(``DIR/.lock``, as for sweeps).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from popsim.analysis import document
from popsim.analysis.execution import (
    describe,
    execute,
    export_html,
    kernel_command,
    logging_to,
    now,
)
from popsim.analysis.notebook import repo_root
from popsim.outputs import burn_in, guards, integrity, replicates
from popsim.scenario.loading import ScenarioError
from popsim.sweeps.executors import LocalExecutor

NOTEBOOK = "scenario.ipynb"
PAGE = "scenario.html"
FAILED = "scenario.failed.ipynb"
LOG = "log.txt"
COMPARE = "compare.ipynb"
REPORT = "report.html"
BURN_INS = ".burn-in"  #: hidden, so that no scenario's name can take it
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class BatchError(ScenarioError):
    """A batch that cannot start (bad arguments, missing files); the message says why."""


@dataclass(frozen=True)
class Job:
    """One scenario of a batch: its name, output folder and notebook parameters."""

    name: str
    out: Path
    params: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """How a scenario (or the compare step) ended: ``done``, ``skipped`` or ``failed``."""

    name: str
    status: str
    seconds: float = 0.0
    error: str = ""


# --- where things are ---------------------------------------------------------------------


def default_scenarios() -> list[Path]:
    """``params/baseline.yaml`` and ``params/scenarios/*.yaml`` of the repository."""
    root = repo_root()
    if root is None:
        raise BatchError(
            "no scenario files given, and no params/baseline.yaml found in the popsim "
            f"repository or above {Path.cwd()}; name the files, e.g. "
            "popsim batch params/baseline.yaml params/scenarios/*.yaml."
        )
    return [root / "params" / "baseline.yaml", *sorted(root.glob("params/scenarios/*.yaml"))]


def default_notebooks() -> Path:
    """The repository's ``notebooks/`` folder."""
    root = repo_root()
    if root is None:
        raise BatchError("no popsim repository found: give the notebooks folder with --notebooks.")
    return root / "notebooks"


# --- planning -----------------------------------------------------------------------------


def variants(
    path: Path,
    overrides: dict[str, Any],
    vary: tuple[str, list[Any]] | None,
    sets: Any = None,
) -> list[dict[str, Any]]:
    """The overrides of each run of one scenario file: as it is, then once per varied value.

    The unvaried scenario stays in the batch as the dose-response's reference.
    """
    if sets is not None:
        from popsim.analysis.ensemble import member_name, set_overrides

        base = replicates.request(path, overrides).scenario.name
        return [dict(overrides)] + [
            overrides | set_overrides(row) | {"name": member_name(base, row["trial"])}
            for _, row in sets.iterrows()
        ]
    if vary is None:
        return [dict(overrides)]
    field, values = vary
    base = replicates.request(path, overrides).scenario.name
    leaf = field.rsplit(".", 1)[-1]
    return [dict(overrides)] + [
        overrides | {field: v, "name": f"{base}_{leaf}_{v}"} for v in values
    ]


def plan(
    paths: Sequence[str | Path],
    out: str | Path,
    *,
    replicates_: int,
    first_seed: int,
    n_agents: int | None,
    years: int | None,
    overrides: dict[str, Any] | None = None,
    vary: tuple[str, list[Any]] | None = None,
    sets: Any = None,
) -> tuple[list[Job], dict[str, replicates.Request]]:
    """Validate every scenario file (and variant) into a job (ScenarioError, BatchError)."""
    out = Path(out).resolve()
    jobs: list[Job] = []
    requests: dict[str, replicates.Request] = {}
    files: dict[str, Path] = {}
    runs = [
        (Path(path).resolve(), changes)
        for path in paths
        for changes in variants(Path(path).resolve(), overrides or {}, vary, sets)
    ]
    for path, changes in runs:
        req = replicates.request(
            path,
            changes,
            replicates=replicates_,
            first_seed=first_seed,
            n_agents=n_agents,
            years=years,
        )
        name = req.scenario.name
        if not _NAME.fullmatch(name) or name in (COMPARE, REPORT):
            raise BatchError(
                f"{path}: name = {name!r} cannot name an output folder; use letters, digits, "
                "'_', '.' and '-'."
            )
        if name in files and vary is not None and files[name] == path:
            raise BatchError(
                f"--vary: two values of {path} give the name {name!r}; give distinct values."
            )
        if name in files:
            raise BatchError(
                f"{files[name]} and {path} are both named {name!r}; a batch needs one "
                "scenario per name (it names the output folder)."
            )
        files[name] = path
        township = req.scenario.township
        params = {
            "scenario": str(path),
            "overrides": changes,
            "replicates": replicates_,
            "first_seed": first_seed,
            "n_agents": township.n_persons,
            "years": township.years,
            "out_dir": str(out / name),
        }
        jobs.append(Job(name, out / name, params))
        requests[name] = req
    return jobs, requests


def notebook_problem(job: Job) -> str | None:
    """Why the job's executed notebook cannot be trusted, or None if it ran with its parameters."""
    try:
        meta = json.loads((job.out / NOTEBOOK).read_text())["metadata"]["papermill"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"{NOTEBOOK} is missing or unreadable"
    if meta.get("parameters") != job.params or meta.get("exception"):
        return f"{NOTEBOOK} ran with other parameters or failed"
    return None


def run_job(job: Job, notebooks: str) -> Outcome:
    """Execute ``scenario.ipynb`` for one job, then its ``scenario.html``; log to ``log.txt``.

    Runs in a worker process.
    """
    start = time.perf_counter()
    job.out.mkdir(parents=True, exist_ok=True)
    nb_dir = Path(notebooks)
    with logging_to(job.out / LOG) as (fh, log):
        fh.write(f"=== {now()} start: {job.name}, parameters {json.dumps(job.params)}\n")
        fh.flush()
        try:
            source, target = nb_dir / NOTEBOOK, job.out / NOTEBOOK
            attempts = execute(source, target, job.params, nb_dir, log, failed=job.out / FAILED)
            export_html(target, job.out / PAGE, title=job.name)
        except Exception as exc:  # reported, and the other scenarios go on
            outcome = Outcome(job.name, "failed", time.perf_counter() - start, describe(exc))
            fh.write(f"{exc}\n=== {now()} end: failed: {outcome.error}\n")
        except KeyboardInterrupt:
            fh.write(f"=== {now()} end: interrupted\n")
            raise
        else:
            outcome = Outcome(job.name, "done", time.perf_counter() - start)
            tries = f" ({attempts} kernel starts)" if attempts > 1 else ""
            fh.write(f"=== {now()} end: done in {outcome.seconds:.1f} s{tries}\n")
    return outcome


def _run_in_worker(shared: tuple[str, str], job: Job) -> Outcome:
    notebooks, burn_ins = shared
    os.environ[burn_in.FOLDER_VARIABLE] = burn_ins  # for the kernels this worker starts
    return run_job(job, notebooks)


def _skip(job: Job) -> Outcome:
    """A complete job: only its page is written, if missing (say, killed just before it)."""
    outcome, note = Outcome(job.name, "skipped"), ""
    if not (job.out / PAGE).is_file():
        try:
            export_html(job.out / NOTEBOOK, job.out / PAGE, title=job.name)
            note = f"; wrote {PAGE}"
        except Exception as exc:  # reported, and the other scenarios go on
            outcome = Outcome(job.name, "failed", 0.0, f"{PAGE}: {describe(exc)}")
            note = f"; {outcome.error}"
    with open(job.out / LOG, "a", encoding="utf-8") as fh:
        fh.write(f"=== {now()} skipped: {job.name}, output complete for the same request{note}\n")
    return outcome


# --- the batch ----------------------------------------------------------------------------


def run_batch(
    jobs: Sequence[Job],
    requests: dict[str, replicates.Request],
    notebooks: Path,
    *,
    workers: int,
    burn_ins: Path,
) -> list[Outcome]:
    """Run every job not already done, ``workers`` at a time; one failure stops no other.

    The scenarios' notebooks keep the states at month 0 they compute in ``burn_ins``, and
    start from those another scenario computed.
    """
    from tqdm import tqdm

    outcomes: dict[str, Outcome] = {}
    todo = []
    bar = tqdm(total=len(jobs), desc="scenarios", unit="scenario", file=sys.stderr)
    for job in jobs:
        integrity.clean(job.out)
        had_output = (job.out / replicates.MANIFEST).is_file()
        # the output must be complete and intact (hashed once here), and its notebook there
        output_problem = replicates.why_incomplete(job.out, requests[job.name])
        problem = output_problem or notebook_problem(job)
        if problem is None:
            outcomes[job.name] = _skip(job)
            bar.update()
            continue
        if had_output:  # an earlier output that cannot be trusted: say so, in one line
            bar.write(f"  recomputed {job.name}: {problem}")
        job.out.mkdir(parents=True, exist_ok=True)
        for last in (NOTEBOOK, PAGE):  # written last, so never left from an earlier run
            (job.out / last).unlink(missing_ok=True)
        if output_problem:
            (job.out / replicates.MANIFEST).unlink(missing_ok=True)  # not this request's
        todo.append(job)
    if todo:  # the sweeps' process pool: spawned workers that end with this process
        integrity.clean(burn_ins)  # a state's write cut short by a kill
        pool = LocalExecutor(min(workers, len(todo)))
        try:
            shared = (str(notebooks), str(burn_ins))
            for job, ok, value in pool.map(_run_in_worker, shared, todo):
                outcome = (
                    value if ok else Outcome(job.name, "failed", 0.0, f"worker: {describe(value)}")
                )
                outcomes[job.name] = outcome
                bar.write(_line(outcome, job.out / LOG))
                bar.update()
        finally:
            pool.close()
    bar.close()
    return [outcomes[job.name] for job in jobs]


def export_csv(folder: Path) -> None:
    """Write each of a scenario output's tables as ``csv/TABLE.csv`` (atomically)."""
    import pandas as pd

    from popsim.outputs.results import atomic_write

    (folder / "csv").mkdir(exist_ok=True)
    for table in sorted((folder / "tables").glob("*.parquet")):
        frame = pd.read_parquet(table)
        target = folder / "csv" / f"{table.stem}.csv"
        atomic_write(target, lambda tmp, f=frame: f.to_csv(tmp, index=False))


def compare(out: Path, notebooks: Path, reference: str) -> Outcome:
    """Execute ``compare.ipynb`` into ``out``, then write the batch's ``report.html``.

    Both are renamed into place only when written, so a failed compare leaves the previous
    report as it was.
    """
    start = time.perf_counter()
    integrity.clean(out)
    params = {"batch_dir": str(out), "reference": reference}
    with logging_to(out / "compare.log.txt") as (fh, log):
        fh.write(f"=== {now()} start: compare, parameters {json.dumps(params)}\n")
        fh.flush()
        try:
            failed = out / "compare.failed.ipynb"
            execute(notebooks / COMPARE, out / COMPARE, params, notebooks, log, failed=failed)
            document.write_report(out, reference, out / REPORT)
        except Exception as exc:
            outcome = Outcome("compare", "failed", time.perf_counter() - start, describe(exc))
            fh.write(f"{exc}\n=== {now()} end: failed: {outcome.error}\n")
            return outcome
        fh.write(f"=== {now()} end: report written to {out / REPORT}\n")
    return Outcome("compare", "done", time.perf_counter() - start)


def _line(outcome: Outcome, log: Path | None = None) -> str:
    minutes, seconds = divmod(round(outcome.seconds), 60)
    took = f"{minutes}m{seconds:02d}s" if outcome.status != "skipped" else "output complete"
    text = f"  {outcome.name:<28} {outcome.status:<8} {took}"
    if outcome.error:
        text += f"\n      {outcome.error}" + (f"\n      log: {log}" if log else "")
    return text


def main(
    paths: Sequence[str | Path],
    out: str | Path,
    *,
    replicates_: int = 4,
    first_seed: int = 0,
    n_agents: int | None = None,
    years: int | None = None,
    workers: int = 2,
    reference: str = "baseline",
    notebooks: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    vary: tuple[str, list[Any]] | None = None,
    ensemble: str | Path | None = None,
    sets: int = 8,
    csv: bool = False,
    echo=print,
) -> int:
    """Run a batch and its report; return the exit code (1 if anything failed)."""
    paths = list(paths) or default_scenarios()
    notebooks = Path(notebooks).resolve() if notebooks else default_notebooks()
    for name in (NOTEBOOK, COMPARE):
        if not (notebooks / name).is_file():
            raise BatchError(f"--notebooks {notebooks}: no {name} there.")
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise BatchError(f"--out {out}: exists and is not a folder.")
    drawn = None
    if ensemble is not None:
        from popsim.analysis.ensemble import draw_sets

        if vary is not None:
            raise BatchError("--vary and --ensemble: use one at a time.")
        drawn = draw_sets(ensemble, sets)
    jobs, requests = plan(
        paths,
        out,
        replicates_=replicates_,
        first_seed=first_seed,
        n_agents=n_agents,
        years=years,
        overrides=overrides,
        vary=vary,
        sets=drawn,
    )
    if reference not in requests:
        raise BatchError(
            f"--reference {reference!r} is not among the batch's scenarios "
            f"({', '.join(requests)}); add its file or name another."
        )
    kernel_command()
    # before any scenario starts: the largest runs, as many at once as there are workers
    biggest = max(requests.values(), key=lambda r: r.scenario.township.n_persons)
    township = biggest.scenario.township
    guards.check_memory(township.n_persons, township.years, parallel=min(workers, len(jobs)))
    with integrity.folder_lock(out, "batch", BatchError) as note:
        if note:
            echo(f"popsim batch: {note}")
        seeds = f"{first_seed}-{first_seed + replicates_ - 1}"
        echo(f"popsim batch: {len(jobs)} scenarios, seeds {seeds}, {workers} jobs -> {out}")
        try:
            outcomes = run_batch(
                jobs, requests, notebooks, workers=workers, burn_ins=out / BURN_INS
            )
            if csv:
                for job, outcome in zip(jobs, outcomes, strict=True):
                    if outcome.status != "failed":
                        export_csv(job.out)
            if any(o.status != "failed" for o in outcomes):
                outcomes.append(compare(out, notebooks, reference))
        except KeyboardInterrupt:
            echo("popsim batch: interrupted; run the same command again to resume.")
            return 130
    others = sorted(
        p.parent.name for p in out.glob(f"*/{replicates.MANIFEST}") if p.parent.name not in requests
    )
    echo("summary:")
    for outcome in outcomes:
        log = out / outcome.name / LOG if outcome.name in requests else None
        echo(_line(outcome, log))
    if others:
        echo(f"note: {out} also holds earlier outputs, which the report includes: {others}")
    failed = [o.name for o in outcomes if o.status == "failed"]
    if (out / REPORT).is_file():
        stale = outcomes[-1].name == "compare" and outcomes[-1].status == "failed"
        echo(f"report: {out / REPORT}" + (" (an earlier one: compare failed)" if stale else ""))
    if failed:
        echo(f"popsim batch: {len(failed)} failed: {', '.join(failed)}")
        return 1
    return 0
