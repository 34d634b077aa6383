"""Results on disk: Parquet tables and manifest round-trip, writes are atomic, and the CLI."""

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import popsim
from conftest import PARAMS, ROOT
from popsim.outputs import results
from popsim.outputs.results import TABLES
from popsim.outputs.runner import resize

INDEXED = ("asfr", "asfr5")  # write() flattens their index; read() restores it


@pytest.fixture(scope="module")
def scenario():
    return popsim.load_scenario(PARAMS / "baseline.yaml")


@pytest.fixture(scope="module")
def run(scenario):
    return popsim.simulate(scenario, seed=0, n_agents=2000, years=3)


@pytest.fixture(scope="module")
def other_run(scenario):
    return popsim.simulate(scenario, seed=1, n_agents=2000, years=3)


def assert_table_equal(name: str, expected: pd.DataFrame, actual: pd.DataFrame) -> None:
    if name in INDEXED:
        pd.testing.assert_index_equal(actual.index, expected.index, exact="equiv")
        assert list(actual.columns) == list(expected.columns), name
        np.testing.assert_array_equal(actual.to_numpy(), expected.to_numpy(), err_msg=name)
    else:
        pd.testing.assert_frame_equal(actual, expected, obj=name)


def hidden_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_every_table_and_the_manifest_round_trip(run, tmp_path):
    out = results.write(run, tmp_path / "out")
    assert out == tmp_path / "out"
    back = results.read(out)
    for name in TABLES:
        assert_table_equal(name, getattr(run, name), getattr(back, name))
    assert back.manifest == run.manifest
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{name}.parquet" for name in TABLES] + ["manifest.json"]
    )
    assert hidden_files(out) == [], "no temporary files remain"


def test_manifest_is_written_last(run, tmp_path, monkeypatch):
    """The manifest is what marks a folder complete, so it must land after every table."""
    landed = []
    replace = results.os.replace

    def spy(src, dst):
        landed.append(Path(dst).name)
        replace(src, dst)

    monkeypatch.setattr(results.os, "replace", spy)
    results.write(run, tmp_path / "out")
    assert landed[-1] == "manifest.json", f"files landed in this order: {landed}"
    assert sorted(landed[:-1]) == sorted(f"{name}.parquet" for name in TABLES)


def test_rewriting_a_folder_replaces_every_file(run, other_run, tmp_path):
    out = results.write(run, tmp_path / "out")
    results.write(other_run, out)
    back = results.read(out)
    for name in TABLES:
        assert_table_equal(name, getattr(other_run, name), getattr(back, name))
    assert back.manifest == other_run.manifest
    assert hidden_files(out) == []


def test_a_failing_write_leaves_no_manifest_and_no_half_file(run, other_run, tmp_path, monkeypatch):
    out = results.write(run, tmp_path / "out")
    before = file_bytes(out)
    assert not getattr(run, TABLES[0]).equals(getattr(other_run, TABLES[0])), "runs must differ"

    real_to_parquet = pd.DataFrame.to_parquet
    calls = []

    def to_parquet_failing_after_first(self, path, *args, **kwargs):
        calls.append(Path(path))
        if len(calls) == 1:
            return real_to_parquet(self, path, *args, **kwargs)
        Path(path).write_bytes(b"PAR1 partial")  # a half-written file, then the failure
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", to_parquet_failing_after_first)
    with pytest.raises(OSError, match="disk full"):
        results.write(other_run, out)
    monkeypatch.undo()

    assert len(calls) == 2
    assert all(p.parent == out and p.name.startswith(".") for p in calls), "writes go to temps"
    assert hidden_files(out) == [], "no temporary files remain"
    after = file_bytes(out)
    assert sorted(after) == sorted(set(before) - {"manifest.json"}), "old manifest removed first"
    # every table on disk is whole: the old one or the new one, never a half-written file
    first = f"{TABLES[0]}.parquet"
    if after[first] != before[first]:
        assert_table_equal(TABLES[0], getattr(other_run, TABLES[0]), pd.read_parquet(out / first))
    for name in [f"{t}.parquet" for t in TABLES[1:]]:
        assert after[name] == before[name], name
    assert results.check(out) == "manifest.json is missing or unreadable"


def test_cli_run_end_to_end(scenario, tmp_path):
    out = tmp_path / "cli"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "popsim.cli", "run", str(PARAMS / "baseline.yaml")]
        + ["--agents", "2000", "--years", "2", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "cbr" in proc.stdout and "tfr" in proc.stdout, proc.stdout
    assert str(out) in proc.stdout
    for name in TABLES:
        assert (out / f"{name}.parquet").is_file(), name
    assert hidden_files(out) == []

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 0
    assert manifest["n_persons"] == 2000
    assert manifest["years"] == 2
    assert manifest["scenario"] == "baseline"
    assert manifest["scenario_hash"] == resize(scenario, 2000, 2).digest()
    for package in ("mesa", "numpy"):
        assert manifest["versions"][package] == metadata.version(package), package
    back = results.read(out)
    assert len(back.annual) == 2
    assert back.annual["population"].iloc[-1] == back.monthly["population"].iloc[-1]
