"""A sweep's output folder: one Parquet file per run, written atomically, and a manifest.

::

    OUT/manifest.json               identity (sweep hash, sweep file hash, scenario, code
                                    version), design, parameters, outputs, number of points
                                    and runs; status, runs done and failed
    OUT/design.parquet              the design on [0, 1]^D, one row per point (the
                                    sensitivity analysis reads it)
    OUT/runs/run=<i>.parquet        one row: run, point, replicate, seed, the parameter
                                    values and the scalar outputs; written last for its run
    OUT/tables/<name>/run=<i>.parquet   a table output of the run, with run, point,
                                    replicate and seed columns
    OUT/failures/run=<i>.json       a run that raised: its parameters and the error
    OUT/checks/run=<i>.json         size and SHA-256 of the run's files, written last
    OUT/burn_in/KEY.burn-in         a state at month 0 that several runs share
                                    (popsim.outputs.burn_in); only where runs share one
    OUT/.workers.<random>.tmp       while Dask workers run the runs: they write a run only
                                    where they see this file (popsim.sweeps.cluster)

A run is done when its ``checks/`` file exists and every file it lists matches its size
and hash: files are written to a hidden temporary name and renamed, so a sweep killed at
any moment leaves no file that looks complete, a truncated or corrupted file is noticed,
and rerunning it runs only the runs not done (saying which were recomputed, and why).
:func:`read_runs` and :func:`read_table` read the done runs only. The folders are Parquet
datasets: ``pyarrow.dataset.dataset(OUT / "runs")`` reads them lazily (hidden files are
skipped).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from popsim.outputs import integrity
from popsim.outputs.results import TABLES, atomic_write
from popsim.outputs.statistics import STATISTICS
from popsim.sweeps.executors import Task
from popsim.sweeps.spec import RESERVED, SweepError

MANIFEST = "manifest.json"
DESIGN = "design.parquet"
TABLE_OUTPUTS = TABLES
_RUN_FILE = re.compile(r"run=(\d+)\.parquet")


@dataclass
class Summary:
    """How a sweep invocation ended."""

    out: Path
    n_points: int
    n_runs: int
    already: int
    ran: int
    failed: list[int]
    seconds: float
    executor: str

    @property
    def exit_code(self) -> int:
        """0 if every run of the sweep is done, else 1."""
        return 1 if self.failed else 0

    def line(self) -> str:
        """One line for the terminal."""
        rate = f", {60 * self.ran / self.seconds:.1f} runs/min" if self.ran and self.seconds else ""
        return (
            f"popsim sweep: {self.n_runs} runs ({self.n_points} points), {self.already} already "
            f"done, {self.ran} run now, {len(self.failed)} failed, {self.seconds:.1f} s{rate} "
            f"with {self.executor} -> {self.out}"
        )


def manifest(sweep: Any, the_plan: Any) -> dict[str, Any]:
    """The manifest fields fixed by the sweep: identity, design and size."""
    spec = sweep.spec
    scalar = [o for o in _expand(spec.outputs) if o not in TABLE_OUTPUTS]
    return {
        "kind": "sweep",
        "sweep": sweep.name,
        "sweep_file": str(sweep.path) if sweep.path else None,
        "sweep_file_sha256": sweep.file_sha256,
        "sweep_hash": sweep.digest,
        "identity": sweep.identity,
        "scenario": sweep.scenario.name if sweep.scenario is not None else None,
        "design": spec.design,
        "samples": spec.samples,
        "levels": spec.levels,
        "second_order": spec.second_order,
        "replicates": spec.replicates,
        "seed": spec.seed,
        "seeds": spec.seeds,
        "parameter_names": the_plan.names,
        "scalar_outputs": scalar,
        "table_outputs": [o for o in spec.outputs if o in TABLE_OUTPUTS],
        "n_points": len(the_plan.points),
        "n_runs": len(the_plan.tasks),
    }


def design(the_plan: Any) -> pd.DataFrame:
    """The design on [0, 1]^D, one row per point."""
    frame = pd.DataFrame(the_plan.units, columns=the_plan.names)
    frame.insert(0, "point", np.arange(len(frame), dtype=np.int64))
    return frame


def _expand(outputs: Sequence[str]) -> list[str]:
    names: list[str] = []
    for o in outputs:
        names += list(STATISTICS) if o == "statistics" else [o]
    return list(dict.fromkeys(names))


class Store:
    """The output folder of one sweep (or calibration, ``kind``) invocation."""

    def __init__(self, out: Path, kind: str = "sweep") -> None:
        self.kind = kind
        self.out = Path(out).resolve()
        self.runs = self.out / "runs"
        self.failures = self.out / "failures"
        self.checks = self.out / "checks"
        self.burn_ins = self.out / "burn_in"  #: states at month 0 shared by runs (outputs.burn_in)
        self.manifest: dict[str, Any] = {}
        self.notes: list[str] = []  # runs found corrupt, a stale lock taken over

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold ``OUT/.lock``, so that two writers never share one folder (see integrity)."""
        with integrity.folder_lock(self.out, self.kind, SweepError) as note:
            if note:
                self.notes.append(note)
            yield

    def prepare(self, manifest: dict[str, Any], design: pd.DataFrame | None = None) -> None:
        """Check that the folder holds this sweep or nothing; write the design and manifest.

        ``manifest`` names the sweep (key ``kind``) and its identity (key ``<kind>_hash``).
        """
        kind, key = self.kind, f"{self.kind}_hash"
        old = self.out / MANIFEST
        if old.is_file():
            previous = json.loads(old.read_text())
            if previous.get(key) != manifest[key]:
                raise SweepError(
                    f"--out {self.out}: holds the runs of another {kind} "
                    f"({previous.get(kind)!r}, hash {str(previous.get(key))[:12]}; "
                    f"this one is {manifest[key][:12]}: its file, base scenario or "
                    "popsim's code differs). Choose another folder, or delete that one."
                )
        elif self.runs.is_dir() and any(self.runs.iterdir()):
            raise SweepError(f"--out {self.out}: has runs/ but no {MANIFEST}; choose another.")
        self.make_folders(manifest.get("table_outputs", []))
        if design is not None:
            atomic_write(self.out / DESIGN, lambda tmp: design.to_parquet(tmp, index=False))
        from popsim.outputs.runner import VERSIONED, package_version

        self.manifest = manifest | {
            "status": "running",
            "versions": {
                p: package_version(p)
                for p in (*VERSIONED, "SALib", "dask", "distributed", "optuna")
            },
        }
        self._write_manifest()

    def make_folders(self, tables: Sequence[str] = ()) -> None:
        """Create ``runs/``, ``failures/`` and the tables' folders; clear half-written files."""
        folders = [self.runs, self.failures, self.checks]
        integrity.clean(self.out, self.burn_ins)  # a write cut short by a kill
        for folder in [*folders, *(self.out / "tables" / t for t in tables)]:
            folder.mkdir(parents=True, exist_ok=True)
            integrity.clean(folder)  # a run's write cut short by a kill

    def update(self, **fields: Any) -> None:
        """Add ``fields`` to the manifest and rewrite it."""
        self.manifest |= fields
        self._write_manifest()

    def _write_manifest(self) -> None:
        text = json.dumps(self.manifest, indent=2, sort_keys=True, default=str) + "\n"
        atomic_write(self.out / MANIFEST, lambda tmp: Path(tmp).write_text(text))

    def done(self) -> set[int]:
        """The indices of the runs whose files are all there and match their check file.

        A run with a file but no intact check is not done; why is added to ``notes``.
        """
        done = set()
        if not self.runs.is_dir():
            return done
        for path in self.runs.iterdir():
            if not (m := _RUN_FILE.fullmatch(path.name)):
                continue
            index = int(m.group(1))
            problem = self.problem(index)
            if problem is None:
                done.add(index)
            else:
                self.notes.append(f"recomputed run={index}: {problem}")
        return done

    def problem(self, index: int) -> str | None:
        """Why run ``index`` is not done (no check file, a file missing or changed), or None."""
        try:
            files = json.loads((self.checks / f"run={index}.json").read_text())
        except (OSError, ValueError):
            return "it has no intact check file"
        return integrity.mismatch(self.out, files)

    def record(self, task: Task, names: Sequence[str], ok: bool, value: Any) -> bool:
        """Write a run's outputs (``ok``) or its failure (``value`` is the error); return ``ok``.

        The one way a run reaches the folder, whether the sweep's process or a Dask worker
        (:mod:`popsim.sweeps.cluster`) writes it.
        """
        if ok:
            self.write_run(task, names, value)
        else:
            self.write_failure(task, value)
        return ok

    def write_run(self, task: Task, names: Sequence[str], outputs: Mapping[str, Any]) -> None:
        """Write the run's tables, then its row (which marks it done)."""
        ids = {"run": task.index, "point": task.point, "replicate": task.replicate}
        ids["seed"] = task.seed
        row: dict[str, Any] = dict(ids)
        row |= {name: task.overrides[name] for name in names}
        check = self.checks / f"run={task.index}.json"
        check.unlink(missing_ok=True)  # the run is not done until its files are rewritten
        written = [f"runs/run={task.index}.parquet"]
        for key, value in outputs.items():
            if isinstance(value, pd.DataFrame):
                frame = value.copy()
                for k, (col, v) in enumerate(ids.items()):
                    frame.insert(k, col, np.full(len(frame), v, dtype=np.int64))
                folder = self.out / "tables" / key
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"run={task.index}.parquet"
                atomic_write(path, lambda tmp, f=frame: f.to_parquet(tmp, index=False))
                written.append(f"tables/{key}/run={task.index}.parquet")
            else:
                row[key] = _scalar(value)
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist([row])  # ints int64, floats double, text string
        path = self.runs / f"run={task.index}.parquet"
        atomic_write(path, lambda tmp: pq.write_table(table, tmp))
        text = json.dumps(integrity.record(self.out, written), indent=2) + "\n"
        self.checks.mkdir(exist_ok=True)
        atomic_write(check, lambda tmp: Path(tmp).write_text(text))
        (self.failures / f"run={task.index}.json").unlink(missing_ok=True)

    def write_failure(self, task: Task, error: str) -> None:
        """Record a failed run: its identity, parameters and error."""
        lines = [line for line in str(error).strip().splitlines() if line.strip()]
        record = {
            "run": task.index,
            "point": task.point,
            "replicate": task.replicate,
            "seed": task.seed,
            "parameters": dict(task.overrides),
            "error": lines[-1] if lines else "",
            "traceback": str(error),
        }
        text = json.dumps(record, indent=2, default=str) + "\n"
        atomic_write(
            self.failures / f"run={task.index}.json", lambda tmp: Path(tmp).write_text(text)
        )

    def finish(self, summary: Any) -> None:
        """Rewrite the manifest with the sweep's status."""
        done = self.done()
        failed = sorted(
            int(m.group(1))
            for p in self.failures.glob("run=*.json")
            if (m := re.fullmatch(r"run=(\d+)\.json", p.name))
        )
        self.manifest |= {
            "status": "complete" if len(done) == self.manifest["n_runs"] else "incomplete",
            "n_done": len(done),
            "n_failed": len(failed),
            "failed_runs": failed[:1000],
            "last_invocation": {
                "executor": summary.executor,
                "runs": summary.ran,
                "seconds": round(summary.seconds, 3),
            },
        }
        self._write_manifest()


def _scalar(value: Any) -> Any:
    if value is None:
        return float("nan")
    return value.item() if isinstance(value, np.generic) else value


# --- reading -------------------------------------------------------------------------------


def read_manifest(out: str | Path) -> dict[str, Any]:
    """The sweep's manifest."""
    path = Path(out) / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SweepError(f"{path}: not found; {out} is not a sweep's output folder.") from None


def dataset(out: str | Path, name: str = "runs"):
    """``pyarrow.dataset`` of the runs (``"runs"``) or of a table output, for lazy reading."""
    import pyarrow.dataset as ds

    folder = Path(out) / "runs" if name == "runs" else Path(out) / "tables" / name
    if not folder.is_dir():
        raise SweepError(f"{folder}: no such output of the sweep in {out}.")
    return ds.dataset(folder, format="parquet")


def _read(out: str | Path, name: str, columns: Sequence[str] | None) -> pd.DataFrame:
    import pyarrow.dataset as ds

    folder = Path(out) / "runs" if name == "runs" else Path(out) / "tables" / name
    if not folder.is_dir():
        raise SweepError(f"{folder}: no such output of the sweep in {out}.")
    done = Store(Path(out)).done()  # only intact runs: no file cut short or corrupted
    files = [str(f) for i in sorted(done) if (f := folder / f"run={i}.parquet").is_file()]
    if not files:
        return pd.DataFrame({c: pd.Series(dtype=np.int64) for c in RESERVED})
    wanted = None if columns is None else list(dict.fromkeys(["run", *columns]))
    frame = ds.dataset(files, format="parquet").to_table(columns=wanted).to_pandas()
    frame = frame.sort_values("run", kind="stable").reset_index(drop=True)
    return frame if columns is None else frame[list(columns)]


def read_runs(out: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per finished run, in run order: ids, parameter values, scalar outputs."""
    return _read(out, "runs", columns)


def read_table(out: str | Path, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A table output of every finished run, stacked in run order."""
    return _read(out, name, columns)


def read_failures(out: str | Path) -> pd.DataFrame:
    """One row per failed run: run, point, replicate, seed, parameters, error."""
    records = [
        json.loads(p.read_text()) for p in sorted((Path(out) / "failures").glob("run=*.json"))
    ]
    columns = [*RESERVED, "parameters", "error", "traceback"]
    return pd.DataFrame(records, columns=columns).sort_values("run").reset_index(drop=True)
