"""A run's tidy tables, and their Parquet files and manifest on disk.

Files are written to a temporary name and renamed into place, so an
interrupted write never leaves a file that looks complete, and an existing
result is replaced only by a complete one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

_UMASK = os.umask(0)
os.umask(_UMASK)

TABLES = (
    "annual",
    "asfr",
    "asfr5",
    "events",
    "monthly",
    "villages",
    "exposure",
    "pyramid",
    "parity",
    "kpis",
    "policy_monthly",
    "cadres",
)


@dataclass
class Result:
    """Everything one run produced.

    Attributes:
        annual: one row per year: population, births (by sex), deaths, in- and
            out-migrants, CBR, CDR (per 1000), TFR, SRB (males per 100 females),
            mean age at first birth, person-years, persons away.
        asfr: births per woman-year, year x single age 15..49.
        asfr5: the same by 5-year age group.
        events: births, deaths, migrations and marriages with person attributes.
        monthly: stocks and flows of every month (Mesa's DataCollector).
        villages: population of every village every month.
        exposure: person-years by year, sex and single age.
        pyramid: year-end persons by 5-year age group and sex: registered, present
            (residents) and present never married.
        parity: year-end women 45-49 by parity.
        kpis: one row per year of the family-planning KPIs, true and reported
            (compliance, SRB by order, check-up participation, contraception and
            LARC, abortions, money by budget line); empty without the regime.
        policy_monthly: the regime's monthly counts and money, behind ``kpis``.
        cadres: every cadre's village and effectiveness every month.
        manifest: scenario name and hash, seed, size, versions, run time.
    """

    annual: pd.DataFrame
    asfr: pd.DataFrame
    asfr5: pd.DataFrame
    events: pd.DataFrame
    monthly: pd.DataFrame
    villages: pd.DataFrame
    exposure: pd.DataFrame
    pyramid: pd.DataFrame
    parity: pd.DataFrame
    kpis: pd.DataFrame
    policy_monthly: pd.DataFrame
    cadres: pd.DataFrame
    manifest: dict = field(default_factory=dict)


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` and rename the result onto ``path``: all or nothing."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; results are for sharing
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def flat(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet wants string column names and no index of meaning."""
    frame = frame.reset_index() if frame.index.name else frame
    return frame.set_axis([str(c) for c in frame.columns], axis=1)


def write(result: Result, out_dir: str | Path) -> Path:
    """Write every table as ``NAME.parquet``, then ``manifest.json``, into ``out_dir``.

    An old manifest is removed first, so that a write cut short never leaves it beside
    new tables; the new one records every table's size and hash (see :func:`check`).
    """
    from popsim.outputs import integrity

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    integrity.clean(out)
    files = [f"{name}.parquet" for name in TABLES]
    for name, file in zip(TABLES, files, strict=True):
        frame = flat(getattr(result, name))
        atomic_write(out / file, lambda tmp, f=frame: f.to_parquet(tmp, index=False))
    manifest = result.manifest | {"files": integrity.record(out, files)}
    text = json.dumps(manifest, indent=2, sort_keys=True)
    atomic_write(out / "manifest.json", lambda tmp: Path(tmp).write_text(text + "\n"))
    return out


def check(out_dir: str | Path) -> str | None:
    """Why ``out_dir`` does not hold a complete run (None if it does); clears temporaries."""
    from popsim.outputs import integrity

    out = Path(out_dir)
    integrity.clean(out)
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return "manifest.json is missing or unreadable"
    return integrity.mismatch(out, manifest.get("files") if isinstance(manifest, dict) else None)


def read(out_dir: str | Path) -> Result:
    """Read a result written by :func:`write`."""
    out = Path(out_dir)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest.pop("files", None)  # the folder's, not the run's
    tables = {name: pd.read_parquet(out / f"{name}.parquet") for name in TABLES}
    for name in ("asfr", "asfr5"):
        tables[name] = tables[name].set_index("year")
        if name == "asfr":
            tables[name].columns = tables[name].columns.astype(int)
    return Result(**tables, manifest=manifest)
