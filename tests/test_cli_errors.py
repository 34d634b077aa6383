"""The ``popsim`` command on bad input: message on stderr, exit 2, no traceback, no output.

Each test runs the CLI in a subprocess, as a user would; none runs a simulation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "params" / "baseline.yaml"
BAD_YAML = "township:\n  n_persons: lots\n"


def popsim(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run(
        [sys.executable, "-m", "popsim.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_clean_error(proc: subprocess.CompletedProcess[str], *pieces: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("popsim: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    for piece in pieces:
        assert piece in proc.stderr, f"{piece!r} not in {proc.stderr!r}"


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path below ``folder`` with its bytes (None for folders)."""
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def test_validate_bad_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(BAD_YAML)
    proc = popsim("validate", "bad.yaml", cwd=tmp_path)
    assert_clean_error(proc, "bad.yaml", "township.n_persons", "'lots'", "integer")
    assert proc.stderr.count("\n") == 1  # one paragraph


@pytest.mark.parametrize(
    ("content", "pieces"),
    [
        (b"name: [unclosed\n", ("line 2", "YAML syntax error")),
        (b'name: !!python/object/apply:os.system ["echo hi"]\n', ("not allowed",)),
        (b"name: caf\xe9\n", ("UTF-8",)),
        (b"? [a, b]\n: 1\n", ("unhashable key",)),
        (b"- a\n- b\n", ("mapping",)),
        (b"name: " + b"[" * 600 + b"]" * 600 + b"\n", ("nested more than 64 levels",)),
        (b"township: {years: true}\n", ("'township.years' = True", "a number is needed")),
        (b"extends: .\n", ("'extends'", "is a folder", "needs a scenario file")),
    ],
    ids=["syntax", "unsafe-tag", "not-utf8", "unhashable-key", "list", "deep", "bool", "folder"],
)
def test_validate_unreadable_files(tmp_path: Path, content: bytes, pieces: tuple) -> None:
    (tmp_path / "bad.yaml").write_bytes(content)
    proc = popsim("validate", "bad.yaml", cwd=tmp_path)
    assert_clean_error(proc, "bad.yaml", *pieces)
    assert "echo hi" not in proc.stdout


def test_validate_missing_file(tmp_path: Path) -> None:
    assert_clean_error(
        popsim("validate", "nowhere.yaml", cwd=tmp_path), "nowhere.yaml", "not found"
    )


def test_validate_baseline(tmp_path: Path) -> None:
    proc = popsim("validate", BASELINE, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout and "'baseline'" in proc.stdout
    assert proc.stderr == ""


def test_validate_stops_at_the_first_bad_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(BAD_YAML)
    proc = popsim("validate", BASELINE, "bad.yaml", cwd=tmp_path)
    assert_clean_error(proc, "bad.yaml")
    assert "baseline.yaml: valid" in proc.stdout


def test_schema_prints_json(tmp_path: Path) -> None:
    proc = popsim("schema", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(proc.stdout)
    assert schema["title"] == "Scenario"
    assert schema["$defs"]["Township"]["properties"]["n_persons"]["unit"] == "persons"


@pytest.mark.parametrize(
    ("args", "pieces"),
    [
        (["--set", "demography.srb=abc"], ("overrides", "demography.srb", "'abc'", "number")),
        (["--set", "demography.srb=9"], ("overrides", "demography.srb", "9", "less than or equal")),
        (["--set", "demography.srbb=1.0"], ("overrides", "demography.srbb", "Did you mean 'srb'")),
        (["--set", "nonsense"], ("overrides", "'nonsense'", "dotted.field=value")),
        (["bad.yaml"], ("bad.yaml", "township.n_persons", "'lots'")),
        (["nowhere.yaml"], ("nowhere.yaml", "not found")),
        (["bad.yaml", "--set", "demography.srb=1.07"], ("bad.yaml", "township.n_persons")),
        (["--seed", str(2**64 + 1)], ("--seed 18446744073709551617", "2**63-1")),
        (["--seed", "-1"], ("--seed -1", "from 0 to 2**63-1")),
        (["--set", "township.years=yes"], ("overrides", "township.years", "a number is needed")),
        (
            ["--set", "demography.migration.labour_age_min=60"],
            ("overrides", "labour_age_min' = 60", "labour_age_max (45)"),
        ),
    ],
    ids=[
        "set-not-a-number",
        "set-out-of-range",
        "set-unknown-field",
        "set-malformed",
        "bad-file",
        "missing-file",
        "bad-file-good-set",
        "seed-above-2**64",
        "seed-negative",
        "set-bool-for-a-number",
        "set-reversed-range",
    ],
)
def test_run_bad_input_leaves_output_alone(tmp_path: Path, args: list[str], pieces: tuple) -> None:
    (tmp_path / "bad.yaml").write_text(BAD_YAML)
    out = tmp_path / "out"
    out.mkdir()
    (out / "sentinel.txt").write_bytes(b"keep me\x00\n")
    (out / "old").mkdir()
    (out / "old" / "table.csv").write_text("a,b\n1,2\n")
    before_out, before_cwd = snapshot(out), sorted(os.listdir(tmp_path))
    proc = popsim("run", *args, "--out", out, cwd=tmp_path)
    assert_clean_error(proc, *pieces)
    assert snapshot(out) == before_out
    assert sorted(os.listdir(tmp_path)) == before_cwd


@pytest.mark.parametrize(
    "args", [["--set", "demography.srb=abc"], ["bad.yaml"]], ids=["bad-set", "bad-file"]
)
def test_run_bad_input_creates_no_output(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "bad.yaml").write_text(BAD_YAML)
    before = snapshot(tmp_path)
    # neither the named folder nor the default one (results/run) may appear
    assert_clean_error(popsim("run", *args, "--out", "new/out", cwd=tmp_path))
    assert_clean_error(popsim("run", *args, cwd=tmp_path))
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("args", "pieces"),
    [
        (["--first-seed", str(2**64)], ("--first-seed 18446744073709551616", "2**63-1")),
        (
            ["--first-seed", str(2**63 - 2), "--replicates", "4"],
            ("--first-seed 9223372036854775806 with --replicates 4", "9223372036854775809"),
        ),
    ],
    ids=["first-seed-above-2**64", "last-seed-above-2**63-1"],
)
def test_batch_refuses_seeds_before_running(tmp_path: Path, args: list[str], pieces: tuple) -> None:
    """Such seeds made every scenario fail with an OverflowError naming no option."""
    proc = popsim("batch", BASELINE, *args, "--out", "out", cwd=tmp_path)
    assert_clean_error(proc, *pieces)
    assert proc.stderr.count("\n") == 1
    assert not (tmp_path / "out" / "baseline").exists()
