"""Faults: killed writes, truncated and corrupted files, and two writers in one folder.

Every case must end in a clean error or a correct recomputation, never in a table that
looks complete but is not. Sizes are tiny so that the whole file stays fast.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from pandas.testing import assert_frame_equal

from popsim import cli
from popsim.analysis import batch
from popsim.outputs import integrity, replicates, results
from popsim.outputs.results import TABLES
from popsim.sweeps.store import read_runs, read_table
from popsim.sweeps.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params"
BASELINE = PARAMS / "baseline.yaml"
NO_CHECKUPS = PARAMS / "scenarios" / "no_checkups.yaml"
RUN = ["--agents", "300", "--years", "2"]
SMALL_BATCH = ["--replicates", "1", "--agents", "300", "--years", "2", "--jobs", "2"]


def truncate(path: Path) -> None:
    """Cut a file in half, as a full disk or a killed copy would."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def flip(path: Path) -> None:
    """Flip one bit in the middle of a file: same size, different content."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def hidden(folder: Path) -> list[str]:
    """Hidden files left in ``folder``: not the lock or the shared burn-in store (its own
    temporaries, dot files inside it, do count)."""
    kept = {".lock", batch.BURN_INS}
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*") if p.name not in kept)


def same_tables(a: Path, b: Path) -> None:
    for name in TABLES:
        assert_frame_equal(
            pd.read_parquet(a / f"{name}.parquet"), pd.read_parquet(b / f"{name}.parquet")
        )


# --- popsim run: SIGKILL during the writes -----------------------------------------------------

#: runs ``popsim ARGS`` with ``MODULE.atomic_write`` killing the process (SIGKILL) at its
#: AT-th call, after the temporary file is written and before the rename:
#: ``python -c KILLER MODULE AT ARGS...``
KILLER = """
import importlib, os, signal, sys
module, at = importlib.import_module(sys.argv[1]), int(sys.argv[2])
real, calls = module.atomic_write, [0]
def atomic_write(path, write):
    calls[0] += 1
    if calls[0] == at:
        write(str(path.parent / f".{path.name}.killed.tmp"))
        os.kill(os.getpid(), signal.SIGKILL)
    real(path, write)
module.atomic_write = atomic_write
from popsim.cli import main
sys.exit(main(sys.argv[3:]))
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted ``popsim run`` with seed 2."""
    out = tmp_path_factory.mktemp("reference") / "run"
    assert cli.main(["run", str(BASELINE), "--seed", "2", *RUN, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def older(tmp_path_factory) -> Path:
    """A finished run with seed 1, for a new run to be written over."""
    out = tmp_path_factory.mktemp("older") / "run"
    assert cli.main(["run", str(BASELINE), "--seed", "1", *RUN, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("at", [1, 6, len(TABLES) + 1])  # first table, a middle one, manifest
def test_killed_run_leaves_no_trusted_folder_and_a_rerun_equals_an_uninterrupted_one(
    at, reference, older, tmp_path
):
    out = tmp_path / "run"
    shutil.copytree(older, out)
    args = ["run", str(BASELINE), "--seed", "2", *RUN, "--out", str(out)]
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, "popsim.outputs.results", str(at), *args],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    # the old manifest (seed 1) is gone before any new table lands: nothing vouches for a mix
    assert not (out / "manifest.json").exists()
    assert results.check(out) == "manifest.json is missing or unreadable"
    assert hidden(out) == [], "checking a folder removes the temporaries of a killed write"
    (out / f".{TABLES[0]}.parquet.x.tmp").write_bytes(b"PAR1 half")
    assert cli.main(args) == 0
    assert results.check(out) is None and hidden(out) == []
    same_tables(out, reference)
    assert results.read(out).manifest["seed"] == 2


@pytest.mark.parametrize("damage", [truncate, flip])
@pytest.mark.parametrize("table", ["annual", "events"])
def test_damaged_run_table_is_detected_and_a_rerun_restores_it(damage, table, reference, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    assert results.check(out) is None
    damage(out / f"{table}.parquet")
    assert results.check(out) == f"{table}.parquet did not match its manifest"
    assert cli.main(["run", str(BASELINE), "--seed", "2", *RUN, "--out", str(out)]) == 0
    assert results.check(out) is None
    same_tables(out, reference)


# --- popsim batch: damaged scenario tables, the report, the lock ------------------------------


SCENARIO_CELL = """
from popsim.outputs import replicates as r
req = r.request(scenario, overrides, replicates=replicates, first_seed=first_seed,
                n_agents=n_agents, years=years)
if not r.is_complete(out_dir, req):
    r.run(req, out_dir)
"""
SCENARIO_PARAMETERS = (
    "scenario = ''\noverrides = {}\nreplicates = 1\nfirst_seed = 0\nn_agents = 1\nyears = 1\n"
    "out_dir = ''"
)


def _notebook(source: str, parameters: str = "batch_dir = ''\nreference = ''"):
    cell = new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[cell, new_code_cell(source)])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory) -> Path:
    """Minimal scenario and compare notebooks: the batch machinery without the figures."""
    folder = tmp_path_factory.mktemp("notebooks")
    nbformat.write(_notebook(SCENARIO_CELL, SCENARIO_PARAMETERS), folder / "scenario.ipynb")
    nbformat.write(_notebook("print(batch_dir, reference)"), folder / "compare.ipynb")
    return folder


def _batch(out: Path, notebooks: Path) -> list[str]:
    return [
        sys.executable, "-m", "popsim.cli", "batch", str(BASELINE), str(NO_CHECKUPS),
        *SMALL_BATCH, "--out", str(out), "--notebooks", str(notebooks),
    ]  # fmt: skip


def _scenario_tables(folder: Path) -> dict[str, pd.DataFrame]:
    return replicates.read(folder)[1]


def test_damaged_batch_tables_are_recomputed_and_equal_the_originals(notebooks, tmp_path):
    out = tmp_path / "batch"
    command = _batch(out, notebooks)
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert first.returncode == 0, first.stdout + first.stderr
    original = {name: _scenario_tables(out / name) for name in ("baseline", "no_checkups")}
    report = (out / "report.html").stat()
    truncate(out / "baseline" / "tables" / "events.parquet")
    flip(out / "no_checkups" / "tables" / "annual.parquet")
    (out / "baseline" / "tables" / ".events.parquet.abc.tmp").write_bytes(b"PAR1")
    (out / "baseline" / ".scenario.abc.ipynb").write_text("{}")

    again = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert again.returncode == 0, again.stdout + again.stderr
    said = again.stdout + again.stderr
    assert "recomputed baseline: events.parquet did not match its manifest" in said
    assert "recomputed no_checkups: annual.parquet did not match its manifest" in said
    assert "skipped" not in said
    for name, tables in original.items():
        for table, frame in _scenario_tables(out / name).items():
            assert_frame_equal(frame, tables[table], check_exact=True)
    assert (out / "report.html").stat().st_ino != report.st_ino, "the report is redone"
    assert hidden(out) == [], "temporaries of killed writes are removed"


def test_failed_compare_keeps_the_previous_report(tmp_path):
    notebooks, out = tmp_path / "notebooks", tmp_path / "out"
    notebooks.mkdir()
    out.mkdir()
    nbformat.write(
        _notebook("raise RuntimeError('broken comparison')"), notebooks / "compare.ipynb"
    )
    (out / "report.html").write_text("the previous report")
    (out / "compare.ipynb").write_text("the previous notebook")
    outcome = batch.compare(out, notebooks, "baseline")
    assert outcome.status == "failed" and "broken comparison" in outcome.error
    assert (out / "report.html").read_text() == "the previous report"
    assert (out / "compare.ipynb").read_text() == "the previous notebook"
    assert hidden(out) == []


def _holder(out: Path, proc: subprocess.Popen) -> str:
    """Wait until ``proc`` holds the folder's lock; return what the lock file says."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        text = (out / integrity.LOCK).read_text() if (out / integrity.LOCK).exists() else ""
        if text.startswith(f"{proc.pid} "):
            return text
        time.sleep(0.05)
    raise AssertionError("the first batch never took the lock")


def test_second_batch_gets_the_lock_error_and_a_dead_holders_lock_is_taken_over(
    notebooks, tmp_path
):
    out = tmp_path / "batch"
    command = _batch(out, notebooks)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    first = subprocess.Popen(command, cwd=ROOT, start_new_session=True, **quiet)
    try:
        held = _holder(out, first)
        second = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert second.returncode == 2, second.stdout + second.stderr
    message = second.stderr
    assert f"pid {first.pid}, started {held.split()[1]}" in message
    assert "another popsim batch is writing into this folder" in message
    assert "Traceback" not in message
    # the killed holder's lock is stale: the next writer takes it over and says so
    with integrity.folder_lock(out, "batch") as note:
        assert note == f"took over the lock of pid {first.pid}, which is no longer running"
        assert (out / integrity.LOCK).read_text().startswith(f"{os.getpid()} ")
    assert (out / integrity.LOCK).read_text() == "", "a finished writer leaves no holder"


# --- popsim sweep: damaged run files, the lock ------------------------------------------------


def _sweep_file(folder: Path) -> Path:
    path = folder / "s.yaml"
    path.write_text(
        f"scenario: {BASELINE.as_posix()}\n"
        "parameters:\n  policy.decision.son_preference: {low: 0.4, high: 0.8}\n"
        "design: latin_hypercube\nsamples: 3\nreplicates: 1\nseed: 7\nn_agents: 300\nyears: 2\n"
        "outputs: [cbr, tfr_true, annual]\n",
        encoding="utf-8",
    )
    return path


def test_damaged_sweep_run_files_are_recomputed_and_equal_the_originals(tmp_path):
    path, out = _sweep_file(tmp_path), tmp_path / "sweep"
    assert run_sweep(path, out, workers=1, progress=False, echo=None).ran == 3
    runs, annual = read_runs(out), read_table(out, "annual")
    truncate(out / "runs" / "run=0.parquet")
    flip(out / "tables" / "annual" / "run=1.parquet")
    (out / "runs" / ".run=2.parquet.abc.tmp").write_bytes(b"PAR1")
    assert sorted(read_runs(out)["run"]) == [2], "a reader sees only the intact runs"
    said: list[str] = []
    again = run_sweep(path, out, workers=1, progress=False, echo=said.append)
    assert again.already == 1 and again.ran == 2 and not again.failed
    assert "popsim sweep: recomputed run=0: runs/run=0.parquet did not match its manifest" in said
    assert (
        "popsim sweep: recomputed run=1: tables/annual/run=1.parquet did not match its manifest"
        in said
    )
    assert_frame_equal(read_runs(out), runs, check_exact=True)
    assert_frame_equal(read_table(out, "annual"), annual, check_exact=True)
    assert hidden(out) == []
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


@pytest.mark.parametrize("command", ["sweep", "calibrate"])
def test_second_sweep_or_calibration_gets_the_lock_error(command, tmp_path, capsys):
    out = tmp_path / "out"
    what = {"sweep": "sweep", "calibrate": "calibration"}[command]
    path = _sweep_file(tmp_path) if command == "sweep" else PARAMS / "calibration" / "demo.yaml"
    with integrity.folder_lock(out, what):  # a live holder: this process
        code = cli.main([command, str(path), "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"another popsim {what} is writing into this folder (pid {os.getpid()}, started" in err
    assert "Traceback" not in err


# --- popsim sweep: SIGKILL during the writes --------------------------------------------------


@pytest.fixture(scope="module")
def sweep_reference(tmp_path_factory) -> tuple[Path, Path]:
    """An uninterrupted sweep (its file, its folder)."""
    folder = tmp_path_factory.mktemp("sweep_reference")
    path, out = _sweep_file(folder), folder / "sweep"
    assert run_sweep(path, out, workers=1, progress=False, echo=None).ran == 3
    return path, out


# writes: design, manifest, then per run its annual table, run file and check file; the last
# is the manifest marked complete
@pytest.mark.parametrize("at", [3, 4, 5, 7, 11, 12])
def test_killed_sweep_resumes_to_the_uninterrupted_result(at, sweep_reference, tmp_path):
    path, reference = sweep_reference
    out = tmp_path / "sweep"
    args = ["sweep", str(path), "--out", str(out), "--workers", "1", "--quiet"]
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, "popsim.sweeps.store", str(at), *args],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    again = subprocess.run(
        [sys.executable, "-m", "popsim.cli", *args], cwd=ROOT, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert_frame_equal(read_runs(out), read_runs(reference), check_exact=True)
    assert_frame_equal(read_table(out, "annual"), read_table(reference, "annual"), check_exact=True)
    assert hidden(out) == [], "temporaries of the killed write are removed"
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
