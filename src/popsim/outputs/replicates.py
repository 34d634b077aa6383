"""One scenario over several seeds: its tables stacked with a ``seed`` column, on disk.

The output folder of a scenario run (what ``notebooks/scenario.ipynb`` writes and
``notebooks/compare.ipynb`` reads)::

    OUT/tables/NAME.parquet   every table of :class:`popsim.outputs.results.Result`, all
                              replicates stacked, with a leading ``seed`` column
    OUT/manifest.json         scenario name, description, hash and every setting, seeds,
                              size, code version, versions of the packages, written last

A folder is *complete* for a request when its manifest exists and matches the
request (scenario hash, seeds, size, code version) and every table file it lists matches
its recorded size and SHA-256; :func:`why_incomplete` is what a resumed batch uses to
skip work or to say why it recomputes. A *batch* is a
folder of such folders, one per scenario (:func:`read_batch`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from popsim.outputs import integrity
from popsim.outputs.results import TABLES, atomic_write, flat
from popsim.outputs.runner import resize, simulate
from popsim.scenario.demography import Scenario
from popsim.scenario.loading import load_scenario
from popsim.version import code_version

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Request:
    """What a scenario run is asked to compute."""

    scenario: Scenario
    seeds: tuple[int, ...]

    @property
    def identity(self) -> dict[str, Any]:
        """The manifest fields that must match for an existing output to be reused."""
        return {
            "scenario": self.scenario.name,
            "scenario_hash": self.scenario.digest(),
            "seeds": list(self.seeds),
            "n_persons": self.scenario.township.n_persons,
            "years": self.scenario.township.years,
            "code_version": code_version(),
        }


def request(
    scenario: Scenario | str | Path,
    overrides: Mapping[str, Any] | None = None,
    *,
    replicates: int = 1,
    first_seed: int = 0,
    n_agents: int | None = None,
    years: int | None = None,
) -> Request:
    """Validate a scenario run's parameters into a :class:`Request`."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, overrides)
    elif overrides:
        raise ValueError("overrides go with a scenario path, not a Scenario object")
    if replicates < 1 or first_seed < 0:
        raise ValueError("replicates must be >= 1 and first_seed >= 0")
    scenario = resize(scenario, n_agents, years)
    return Request(scenario, tuple(range(first_seed, first_seed + replicates)))


def run(req: Request, out_dir: str | Path | None = None, progress=None) -> dict[str, pd.DataFrame]:
    """Run every replicate; write the folder if ``out_dir`` is given; return the tables.

    ``progress``, if given, is called with (replicate index, number of replicates).
    """
    stacked: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    manifests = []
    for i, seed in enumerate(req.seeds):
        result = simulate(req.scenario, seed=seed)
        for name in TABLES:
            frame = flat(getattr(result, name))
            stacked[name].append(frame.assign(seed=seed)[["seed", *frame.columns]])
        manifests.append(result.manifest)
        if progress is not None:
            progress(i + 1, len(req.seeds))
    tables = {name: pd.concat(frames, ignore_index=True) for name, frames in stacked.items()}
    if out_dir is not None:
        write(tables, req, manifests, out_dir)
    return tables


def write(
    tables: Mapping[str, pd.DataFrame], req: Request, manifests: list[dict], out_dir: str | Path
) -> Path:
    """Write the tables, then the manifest (last, so its presence means complete)."""
    out = Path(out_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)  # the folder is incomplete until rewritten
    integrity.clean(out, out / "tables")
    for name, frame in tables.items():
        atomic_write(
            out / "tables" / f"{name}.parquet", lambda tmp, f=frame: f.to_parquet(tmp, index=False)
        )
    manifest = req.identity | {
        "description": req.scenario.description,
        "settings": req.scenario.model_dump(mode="json", exclude={"name", "description"}),
        "tables": sorted(tables),
        "versions": manifests[0]["versions"] if manifests else {},
        "cpu_seconds": [m.get("cpu_seconds") for m in manifests],
        "files": integrity.record(out, [f"tables/{name}.parquet" for name in tables]),
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    atomic_write(out / MANIFEST, lambda tmp: Path(tmp).write_text(text))
    return out


def why_incomplete(out_dir: str | Path, req: Request) -> str | None:
    """Why ``out_dir`` does not hold this request's complete output, or None if it does."""
    out = Path(out_dir)
    integrity.clean(out, out / "tables")
    try:
        manifest = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return f"no readable {MANIFEST}"
    if not isinstance(manifest, dict) or any(manifest.get(k) != v for k, v in req.identity.items()):
        return f"its {MANIFEST} is for another request"
    files = manifest.get("files")
    if isinstance(files, dict) and set(files) != {f"tables/{n}.parquet" for n in TABLES}:
        return f"its {MANIFEST} does not list every table"
    problem = integrity.mismatch(out, files)
    return problem and problem.removeprefix("tables/")


def is_complete(out_dir: str | Path, req: Request) -> bool:
    """Whether ``out_dir`` already holds this request's complete, intact output."""
    return why_incomplete(out_dir, req) is None


def read(out_dir: str | Path, tables: tuple[str, ...] = TABLES) -> tuple[dict, dict]:
    """(manifest, {table name: stacked frame}) of a scenario output folder."""
    out = Path(out_dir)
    manifest = json.loads((out / MANIFEST).read_text())
    frames = {name: pd.read_parquet(out / "tables" / f"{name}.parquet") for name in tables}
    return manifest, frames


def read_batch(batch_dir: str | Path, tables: tuple[str, ...] = TABLES) -> dict[str, dict]:
    """Every scenario output under ``batch_dir``: ``{folder name: {table: frame}}``.

    A scenario output is a subfolder holding a manifest; other subfolders (logs, executed
    notebooks) are skipped. Scenarios come in the order of their folder names.
    """
    root = Path(batch_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"batch folder {batch_dir} does not exist")
    folders = sorted(p for p in root.iterdir() if (p / MANIFEST).is_file())
    batch = {folder.name: read(folder, tables)[1] for folder in folders}
    if not batch:
        raise FileNotFoundError(f"no scenario output (a subfolder with a manifest) in {batch_dir}")
    return batch


def demo_batch(
    scenarios: Iterable[str | Path],
    *,
    replicates: int = 3,
    first_seed: int = 0,
    n_agents: int = 3000,
    years: int = 5,
    tables: tuple[str, ...] = TABLES,
) -> dict[str, dict]:
    """Run a small batch in a temporary folder and read it back, as a real batch is read.

    Each scenario file is run with the same seeds; the folder is named after
    the scenario's ``name`` and removed afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="popsim-demo-") as tmp:
        for path in scenarios:
            req = request(
                path, replicates=replicates, first_seed=first_seed, n_agents=n_agents, years=years
            )
            run(req, Path(tmp) / req.scenario.name)
        return read_batch(tmp, tables)
