"""What the notebooks share besides figures: the repository, paths in it, runs and batches.

The notebooks run from ``notebooks/`` or a batch folder, ``popsim batch`` from anywhere:
all of them find scenario files and show output folders through these, the same way.
Figures and tables are in :mod:`popsim.analysis.report`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Scenarios of the demonstration batch ``compare.ipynb`` builds when given no batch folder.
DEMO = (
    "params/baseline.yaml",
    "params/scenarios/incentives_doubled.yaml",
    "params/scenarios/sex_selection_crackdown.yaml",
)

#: Tables ``scenario.ipynb`` reads back from its output folder.
SCENARIO_TABLES = ("annual", "kpis", "events", "pyramid")

# --- paths -----------------------------------------------------------------------------------


def repo_root(start: str | Path | None = None) -> Path | None:
    """The popsim repository: the folder holding ``params/baseline.yaml``.

    The first of ``start`` (default: the working directory) and its parents that holds it,
    else the checkout popsim is installed from (an editable install), else None.
    """
    here = Path(start if start is not None else Path.cwd()).resolve()
    checkout = Path(__file__).resolve().parents[3]  # src/popsim/analysis/notebook.py
    for folder in (here, *here.parents, checkout):
        if (folder / "params" / "baseline.yaml").is_file():
            return folder
    return None


def _base(root: str | Path | None) -> Path:
    if root:
        return Path(root)
    return repo_root() or Path.cwd().resolve()


def resolve(path: str | Path, root: str | Path | None = None) -> Path:
    """``path`` if absolute, else ``path`` under ``root`` (default: the repository root)."""
    path = Path(path)
    return path if path.is_absolute() else _base(root) / path


def shown(path: str | Path, root: str | Path | None = None) -> str:
    """``path`` relative to the repository root when inside it (stable notebook output)."""
    path = Path(path).resolve()
    base = _base(root).resolve()
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)


# --- runs and batches ------------------------------------------------------------------------


def describe(req, overrides: Mapping[str, Any] | None = None) -> str:
    """One line on what a replicates request runs (with its ``overrides``)."""
    t, n = req.scenario.township, len(req.seeds)
    seeds = f"seed {req.seeds[0]}" if n == 1 else f"seeds {req.seeds[0]}-{req.seeds[-1]}"
    changed = "".join(f", {k} = {v!r}" for k, v in (overrides or {}).items())
    return (
        f"{req.scenario.name}{changed}: {n} replicate{'s' * (n > 1)} ({seeds}), "
        f"{t.n_persons:,} persons, {t.years} years from {t.start_year} after a "
        f"{t.burn_in_years}-year burn-in; scenario hash {req.scenario.digest()[:12]}"
    )


def output_paths(out_dir: str | Path, root: str | Path | None = None) -> str:
    """Where a scenario output folder's tables and manifest are (paths shown relative)."""
    from popsim.outputs import replicates
    from popsim.outputs.results import TABLES

    out = shown(out_dir, root)
    return (
        f"tables:   {out}/tables/NAME.parquet, every replicate stacked with a 'seed' column,\n"
        f"          NAME one of {', '.join(TABLES[:6])},\n"
        f"          {', '.join(TABLES[6:])}\n"
        f"manifest: {out}/{replicates.MANIFEST}"
    )


def parse_overrides(overrides: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """Overrides as a dict; a string (papermill ``-p overrides '{...}'``) is read as YAML."""
    if overrides is None or isinstance(overrides, Mapping):
        return dict(overrides or {})
    import yaml

    value = yaml.safe_load(overrides) if overrides.strip() else {}
    if not isinstance(value, Mapping):
        raise ValueError(f"overrides = {overrides!r}: must be a mapping of dotted field -> value")
    return dict(value)


def load_batch(batch_dir: str | Path, reference: str, root: str | Path | None = None) -> dict:
    """The batch to compare, reference first: read from ``batch_dir``, or the demo when empty.

    The demo runs :data:`DEMO` (3 replicates, 3,000 persons, 5 years) in a
    temporary folder, the same way ``popsim batch`` writes its outputs.
    """
    from popsim.analysis import comparison
    from popsim.outputs import replicates

    if str(batch_dir).strip():
        batch = replicates.read_batch(resolve(batch_dir, root), comparison.NEEDED)
    else:
        demo = [resolve(p, root) for p in DEMO]
        batch = replicates.demo_batch(demo, tables=comparison.NEEDED)
    return comparison.order(batch, reference)
