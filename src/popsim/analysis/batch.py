"""Scenario batches: ``scenario.ipynb`` once per scenario through papermill, then a report.

The batch folder ``DIR``::

    DIR/NAME/                  one scenario's output (see popsim.outputs.replicates): tables/,
                               manifest.json (written last)
    DIR/NAME/scenario.ipynb    the executed notebook, renamed into place when it succeeded
    DIR/NAME/scenario.failed.ipynb   the executed notebook of a failed run, for reading
    DIR/NAME/log.txt           start and end times and papermill's output, one block per run
    DIR/compare.ipynb          the executed comparison notebook
    DIR/report.html            compare.ipynb without its code, figures embedded

A scenario is skipped when its folder is complete for the request
(:func:`popsim.outputs.replicates.is_complete`: same scenario hash, seeds, size and code version)
and its executed notebook is there with the same parameters. Notebooks and the report are
written to a temporary name and renamed, and replicates writes the manifest last, so a
batch killed at any moment leaves nothing half-written that looks complete.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from popsim.analysis.notebook import repo_root
from popsim.outputs import replicates
from popsim.outputs.results import atomic_write
from popsim.scenario.loading import ScenarioError

KERNEL = "python3"  # the notebooks' kernel; must run this interpreter (see kernel_command)
START_ATTEMPTS = 3  # parallel kernel starts race for ports now and then: retry those only
NOTEBOOK = "scenario.ipynb"
FAILED = "scenario.failed.ipynb"
LOG = "log.txt"
COMPARE = "compare.ipynb"
REPORT = "report.html"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_UMASK = os.umask(0)
os.umask(_UMASK)


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


def kernel_command() -> list[str]:
    """The command that the ``python3`` kernel spec runs; it must be this interpreter.

    jupyter_client replaces a bare ``python`` with ``sys.executable``; the spec that
    ipykernel installs into every environment is of that kind. A spec registered with
    ``ipykernel install --name python3`` that names another interpreter would run the
    notebooks in the wrong environment, so it is refused.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        raise BatchError(
            f"no Jupyter kernel {KERNEL!r}: install ipykernel into this environment "
            f"({sys.executable} -m pip install ipykernel)."
        ) from None
    argv = list(spec.argv)
    bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
    if argv and argv[0] in bare:
        argv[0] = sys.executable
    if not argv or os.path.abspath(argv[0]) != os.path.abspath(sys.executable):
        raise BatchError(
            f"the Jupyter kernel {KERNEL!r} ({spec.resource_dir}) runs {argv[:1]}, not this "
            f"environment's {sys.executable}; remove that kernel spec "
            f"(jupyter kernelspec remove {KERNEL}) so that ipykernel's own is used."
        )
    return argv


# --- planning -----------------------------------------------------------------------------


def plan(
    paths: Sequence[str | Path],
    out: str | Path,
    *,
    replicates_: int,
    first_seed: int,
    n_agents: int | None,
    years: int | None,
) -> tuple[list[Job], dict[str, replicates.Request]]:
    """Validate every scenario file into a job; raises ScenarioError or BatchError."""
    out = Path(out).resolve()
    jobs: list[Job] = []
    requests: dict[str, replicates.Request] = {}
    files: dict[str, Path] = {}
    for path in paths:
        path = Path(path).resolve()
        req = replicates.request(
            path, {}, replicates=replicates_, first_seed=first_seed, n_agents=n_agents, years=years
        )
        name = req.scenario.name
        if not _NAME.fullmatch(name) or name in (COMPARE, REPORT):
            raise BatchError(
                f"{path}: name = {name!r} cannot name an output folder; use letters, digits, "
                "'_', '.' and '-'."
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
            "overrides": {},
            "replicates": replicates_,
            "first_seed": first_seed,
            "n_agents": township.n_persons,
            "years": township.years,
            "out_dir": str(out / name),
        }
        jobs.append(Job(name, out / name, params))
        requests[name] = req
    return jobs, requests


def is_done(job: Job, req: replicates.Request) -> bool:
    """Whether the job's output is complete and valid and its notebook ran with its parameters."""
    if not replicates.is_complete(job.out, req):
        return False
    try:
        meta = json.loads((job.out / NOTEBOOK).read_text())["metadata"]["papermill"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return meta.get("parameters") == job.params and not meta.get("exception")


# --- executing a notebook -----------------------------------------------------------------


def _started(nb_path: Path) -> bool:
    """Whether papermill began any cell of the notebook it was writing to ``nb_path``."""
    try:
        cells = json.loads(nb_path.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return False
    return any(c.get("metadata", {}).get("papermill", {}).get("start_time") for c in cells)


def execute(
    source: Path, target: Path, params: dict[str, Any], cwd: Path, log=None, *, failed: Path
) -> int:
    """Run ``source`` through papermill into ``target`` (all or nothing); return the attempts.

    A failure before any cell started is a kernel-start failure and is retried; a cell's
    error raises papermill's PapermillExecutionError, and the executed notebook is kept
    at ``failed`` for reading.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    failed.unlink(missing_ok=True)
    for attempt in range(1, START_ATTEMPTS + 1):
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.stem}.", suffix=".ipynb"
        )
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            papermill.execute_notebook(
                str(source),
                str(tmp),
                parameters=params,
                kernel_name=KERNEL,
                cwd=str(cwd),
                progress_bar=False,
                log_output=log is not None,
            )
            _publish(tmp, target)
            return attempt
        except PapermillExecutionError:
            _publish(tmp, failed)
            raise
        except Exception as exc:
            started = _started(tmp)
            if started:
                _publish(tmp, failed)
            if started or attempt == START_ATTEMPTS:
                raise
            if log is not None:
                log.warning("kernel start failed (attempt %d): %r; retrying", attempt, exc)
        finally:
            tmp.unlink(missing_ok=True)
    raise AssertionError("unreachable")


def _publish(tmp: Path, path: Path) -> None:
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; results are for sharing
    os.replace(tmp, path)


def describe(exc: BaseException) -> str:
    """One line for a failure: the notebook cell and its error, or the exception."""
    if hasattr(exc, "exec_count") and hasattr(exc, "ename"):
        evalue = " ".join(str(exc.evalue).split())
        return f"cell In [{exc.exec_count}]: {exc.ename}: {evalue}"
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


@contextmanager
def _logging_to(path: Path):
    """Append papermill's log, with the notebook's output, to ``path``; yield (file, logger)."""
    with open(path, "a", encoding="utf-8") as fh:
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log = logging.getLogger("papermill")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False  # nothing on the terminal under the progress bar
        # The kernel inherits file descriptors 1 and 2: its own messages go to the log too.
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield fh, log
        finally:
            fh.flush()
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, old in zip((1, 2), saved, strict=True):
                os.dup2(old, fd)
                os.close(old)
            log.removeHandler(handler)


def run_job(job: Job, notebooks: str) -> Outcome:
    """Execute ``scenario.ipynb`` for one job, logging to its ``log.txt`` (a worker process)."""
    start = time.perf_counter()
    job.out.mkdir(parents=True, exist_ok=True)
    nb_dir = Path(notebooks)
    with _logging_to(job.out / LOG) as (fh, log):
        fh.write(f"=== {_now()} start: {job.name}, parameters {json.dumps(job.params)}\n")
        fh.flush()
        try:
            source, target = nb_dir / NOTEBOOK, job.out / NOTEBOOK
            attempts = execute(source, target, job.params, nb_dir, log, failed=job.out / FAILED)
        except Exception as exc:  # reported, and the other scenarios go on
            outcome = Outcome(job.name, "failed", time.perf_counter() - start, describe(exc))
            fh.write(f"{exc}\n=== {_now()} end: failed: {outcome.error}\n")
        except KeyboardInterrupt:
            fh.write(f"=== {_now()} end: interrupted\n")
            raise
        else:
            outcome = Outcome(job.name, "done", time.perf_counter() - start)
            tries = f" ({attempts} kernel starts)" if attempts > 1 else ""
            fh.write(f"=== {_now()} end: done in {outcome.seconds:.1f} s{tries}\n")
    return outcome


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _skip(job: Job) -> Outcome:
    with open(job.out / LOG, "a", encoding="utf-8") as fh:
        fh.write(f"=== {_now()} skipped: {job.name}, output complete for the same request\n")
    return Outcome(job.name, "skipped")


# --- the batch ----------------------------------------------------------------------------


def run_batch(
    jobs: Sequence[Job],
    requests: dict[str, replicates.Request],
    notebooks: Path,
    *,
    workers: int,
) -> list[Outcome]:
    """Run every job not already done, ``workers`` at a time; one failure stops no other."""
    from tqdm import tqdm

    outcomes: dict[str, Outcome] = {}
    todo = []
    bar = tqdm(total=len(jobs), desc="scenarios", unit="scenario", file=sys.stderr)
    for job in jobs:
        if is_done(job, requests[job.name]):
            outcomes[job.name] = _skip(job)
            bar.update()
            continue
        job.out.mkdir(parents=True, exist_ok=True)
        (job.out / NOTEBOOK).unlink(missing_ok=True)  # its notebook is rewritten last
        if not replicates.is_complete(job.out, requests[job.name]):
            (job.out / replicates.MANIFEST).unlink(missing_ok=True)  # stale: not this request
        todo.append(job)
    if todo:
        context = get_context("spawn")  # no fork of a process with threads (tqdm's monitor)
        with ProcessPoolExecutor(min(workers, len(todo)), mp_context=context) as pool:
            futures = {pool.submit(run_job, job, str(notebooks)): job for job in todo}
            for future in as_completed(futures):
                job = futures[future]
                try:
                    outcome = future.result()
                except Exception as exc:  # the worker itself died
                    outcome = Outcome(job.name, "failed", 0.0, f"worker: {describe(exc)}")
                outcomes[job.name] = outcome
                bar.write(_line(outcome, job.out / LOG))
                bar.update()
    bar.close()
    return [outcomes[job.name] for job in jobs]


def compare(out: Path, notebooks: Path, reference: str) -> Outcome:
    """Execute ``compare.ipynb`` into ``out`` and turn it into ``report.html`` (no code)."""
    start = time.perf_counter()
    for stale in (REPORT, COMPARE):  # the report of an earlier batch is not this batch's
        (out / stale).unlink(missing_ok=True)
    params = {"batch_dir": str(out), "reference": reference}
    with _logging_to(out / "compare.log.txt") as (fh, log):
        fh.write(f"=== {_now()} start: compare, parameters {json.dumps(params)}\n")
        fh.flush()
        try:
            failed = out / "compare.failed.ipynb"
            execute(notebooks / COMPARE, out / COMPARE, params, notebooks, log, failed=failed)
            write_report(out / COMPARE, out / REPORT)
        except Exception as exc:
            outcome = Outcome("compare", "failed", time.perf_counter() - start, describe(exc))
            fh.write(f"{exc}\n=== {_now()} end: failed: {outcome.error}\n")
            return outcome
        fh.write(f"=== {_now()} end: report written to {out / REPORT}\n")
    return Outcome("compare", "done", time.perf_counter() - start)


def write_report(notebook: Path, html: Path) -> None:
    """Standalone HTML of an executed notebook: outputs and text only, images embedded."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    exporter = HTMLExporter(
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": "popsim report"}})
    atomic_write(html, lambda tmp: Path(tmp).write_text(body, encoding="utf-8"))


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
    jobs, requests = plan(
        paths, out, replicates_=replicates_, first_seed=first_seed, n_agents=n_agents, years=years
    )
    if reference not in requests:
        raise BatchError(
            f"--reference {reference!r} is not among the batch's scenarios "
            f"({', '.join(requests)}); add its file or name another."
        )
    kernel_command()
    out.mkdir(parents=True, exist_ok=True)
    seeds = f"{first_seed}-{first_seed + replicates_ - 1}"
    echo(f"popsim batch: {len(jobs)} scenarios, seeds {seeds}, {workers} jobs -> {out}")
    try:
        outcomes = run_batch(jobs, requests, notebooks, workers=workers)
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
        echo(f"report: {out / REPORT}")
    if failed:
        echo(f"popsim batch: {len(failed)} failed: {', '.join(failed)}")
        return 1
    return 0
