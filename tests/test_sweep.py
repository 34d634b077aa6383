"""Sweeps: identical tables on every executor, resumption after a kill, failures, bad files."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from scipy import stats

from conftest import PARAMS, ROOT
from popsim.scenario.timeline import OWN_PAST
from popsim.sweeps.design import unit_values
from popsim.sweeps.executors import run_one
from popsim.sweeps.spec import Range, TruncNormal
from popsim.sweeps.sweep import (
    SweepError,
    load_sweep,
    main,
    plan,
    read_failures,
    read_manifest,
    read_runs,
    read_table,
    run_seed,
    run_sweep,
)

BASELINE = (PARAMS / "baseline.yaml").as_posix()
OUTPUTS = "[cbr, tfr_true, srb, compliance_true, annual]"


def sweep_file(folder: Path, body: str, name: str = "s.yaml") -> Path:
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def small_sweep(folder: Path, design: str = "design: latin_hypercube\nsamples: 3", reps: int = 2):
    return sweep_file(
        folder,
        f"scenario: {BASELINE}\n"
        "parameters:\n"
        "  policy.decision.son_preference: {low: 0.4, high: 0.8}\n"
        "  policy.checkups.interval_months: {low: 1, high: 6}\n"
        f"{design}\nreplicates: {reps}\nseed: 7\nn_agents: 1000\nyears: 2\noutputs: {OUTPUTS}\n",
    )


def test_local_processes_dask_and_serial_give_identical_tables(tmp_path, dask_client):
    path = small_sweep(tmp_path)
    local = run_sweep(path, tmp_path / "local", workers=2, progress=False, echo=None)
    serial = run_sweep(path, tmp_path / "serial", workers=1, progress=False, echo=None)
    dask = run_sweep(path, tmp_path / "dask", scheduler=dask_client, progress=False, echo=None)
    assert [(s.ran, s.failed) for s in (local, serial, dask)] == [(6, [])] * 3
    assert "Dask" in dask.executor and "2 workers" in dask.executor
    runs = read_runs(tmp_path / "local")
    assert runs["run"].tolist() == list(range(6))
    assert runs["policy.checkups.interval_months"].dtype == np.int64
    assert runs["policy.checkups.interval_months"].between(1, 6).all()
    for other in ("serial", "dask"):
        assert_frame_equal(read_runs(tmp_path / other), runs, check_exact=True)
        assert_frame_equal(
            read_table(tmp_path / other, "annual"),
            read_table(tmp_path / "local", "annual"),
            check_exact=True,
        )
    # the run function, called directly with a run's inputs, gives the recorded figures
    row = runs.iloc[3]  # a row of floats: seeds are below 2**52, exact in a float
    direct = run_one(
        PARAMS / "baseline.yaml",
        int(row["seed"]),
        {
            "policy.decision.son_preference": row["policy.decision.son_preference"],
            "policy.checkups.interval_months": int(row["policy.checkups.interval_months"]),
            **OWN_PAST,  # as the sweep runs it
        },
        n_agents=1000,
        years=2,
        outputs=("cbr", "srb"),
    )
    assert direct == {"cbr": row["cbr"], "srb": row["srb"]}


def test_common_random_numbers_share_seeds_across_points(tmp_path):
    the_plan = plan(load_sweep(small_sweep(tmp_path)))
    seeds = pd.DataFrame([(t.point, t.replicate, t.seed) for t in the_plan.tasks])
    assert seeds.groupby(1)[2].nunique().eq(1).all(), "replicate r uses one seed at every point"
    assert seeds.groupby(0)[2].nunique().eq(2).all()
    assert run_seed(7, 1) == run_seed(7, 1) != run_seed(7, 2) != run_seed(8, 2)
    assert all(0 <= run_seed(7, k) < 2**52 for k in range(100))
    text = small_sweep(tmp_path).read_text() + "seeds: independent\n"
    independent = plan(load_sweep(sweep_file(tmp_path, text, "i.yaml")))
    assert [t.seed for t in independent.tasks] == [run_seed(7, t.index) for t in independent.tasks]


def _cli(args: list[str]) -> list[str]:
    code = f"import sys; from popsim.sweeps.sweep import main; sys.exit(main({args!r}))"
    return [sys.executable, "-c", code]


def test_killed_sweep_resumes_running_only_missing_runs(tmp_path):
    path = small_sweep(tmp_path, "design: grid\nlevels: 3", reps=1)  # 9 runs
    out = tmp_path / "killed"
    runs, checks = out / "runs", out / "checks"
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen(
            _cli([str(path), "--out", str(out), "--workers", "2"]),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the kill reaches the workers
            cwd=ROOT,
        )
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if checks.is_dir() and len(list(checks.glob("run=*.json"))) >= 2:
                break
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # a run is done when its check file is written, last
    first = {
        f"{p.stem}.parquet": (runs / f"{p.stem}.parquet").stat() for p in checks.glob("*.json")
    }
    assert 2 <= len(first) < 9, f"the kill came when {len(first)} of 9 runs were done"
    assert read_manifest(out)["status"] == "running"

    again = subprocess.run(
        _cli([str(path), "--out", str(out), "--workers", "2", "--quiet"]),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert f"{len(first)} already done, {9 - len(first)} run now, 0 failed" in again.stdout
    for name, stat in first.items():
        now = (runs / name).stat()
        assert (now.st_mtime_ns, now.st_ino) == (stat.st_mtime_ns, stat.st_ino), (
            f"{name} was done before the kill and must not be run again"
        )
    assert not list(out.rglob("*.tmp")), "the temporary files of the killed writes are gone"
    assert read_manifest(out)["status"] == "complete"

    whole = run_sweep(path, tmp_path / "whole", workers=1, progress=False, echo=None)
    assert whole.ran == 9
    assert_frame_equal(read_runs(out), read_runs(tmp_path / "whole"), check_exact=True)
    assert_frame_equal(
        read_table(out, "annual"), read_table(tmp_path / "whole", "annual"), check_exact=True
    )


def fragile(scenario, seed, overrides, n_agents, years, outputs):
    """A run function that fails for large x, as a model can for some parameter values."""
    if overrides["x"] > 0.75:
        raise RuntimeError(f"diverged at x={overrides['x']:.3f}")
    return {"y": 2 * overrides["x"]}


def test_failed_runs_are_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    path = sweep_file(
        tmp_path,
        "model: test_sweep:fragile\nparameters:\n  x: {low: 0, high: 1}\n"
        "design: grid\nlevels: 11\noutputs: [y]\n",
    )
    summary = run_sweep(path, tmp_path / "out", workers=1, run=fragile, progress=False)
    assert summary.exit_code == 1
    assert summary.failed == [8, 9, 10]
    runs = read_runs(tmp_path / "out")
    assert runs["run"].tolist() == list(range(8))
    np.testing.assert_allclose(runs["y"], 2 * runs["x"])
    failures = read_failures(tmp_path / "out")
    assert failures["run"].tolist() == [8, 9, 10]
    assert failures["error"].iloc[0] == "RuntimeError: diverged at x=0.800"
    assert failures["parameters"].iloc[0] == {"x": pytest.approx(0.8)}
    assert "Traceback" in failures["traceback"].iloc[0]
    manifest = read_manifest(tmp_path / "out")
    assert (manifest["status"], manifest["n_done"], manifest["n_failed"]) == ("incomplete", 8, 3)
    assert "failed runs [8, 9, 10]" in capsys.readouterr().out


def test_out_folder_of_another_sweep_is_refused(tmp_path):
    path = sweep_file(
        tmp_path,
        "model: popsim.sweeps.sensitivity:ishigami\nparameters:\n  x1: {low: 0, high: 1}\n"
        "  x2: [0.5]\n  x3: [1.0]\ndesign: grid\nlevels: 2\noutputs: [y]\n",
    )
    run_sweep(path, tmp_path / "out", workers=1, progress=False, echo=None)
    path.write_text(path.read_text().replace("levels: 2", "levels: 3"))
    with pytest.raises(SweepError, match="holds the runs of another sweep"):
        run_sweep(path, tmp_path / "out", workers=1, progress=False, echo=None)
    assert len(read_runs(tmp_path / "out")) == 2


def test_unit_values_map_ranges_lists_and_distributions():
    u = np.array([0.0, 0.2, 0.5, 0.99, 1.0])
    assert unit_values(Range(low=1, high=6), u, integer=True) == [1, 2, 4, 6, 6]
    assert unit_values(Range(low=2, high=4), u) == pytest.approx([2, 2.4, 3, 3.98, 4])
    assert unit_values(("a", "b", "c"), u) == ["a", "a", "b", "c", "c"]
    assert unit_values((1, 2.5), u) == [1.0, 1.0, 2.5, 2.5, 2.5]
    dist = TruncNormal(dist="truncnorm", mean=1.06, sd=0.05, low=1.0, high=1.1)
    values = unit_values(dist, np.linspace(0, 1, 101))
    assert values[0] == pytest.approx(1.0) and values[-1] == pytest.approx(1.1)
    median = stats.truncnorm.median((1.0 - 1.06) / 0.05, (1.1 - 1.06) / 0.05, 1.06, 0.05)
    assert values[50] == pytest.approx(median)


HEAD = f"scenario: {BASELINE}\nparameters:\n"
GOOD = HEAD + "  policy.decision.son_preference: {low: 0.4, high: 0.8}\n"
FEE = "  policy.fee.multiple: "


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (GOOD + "design: morris\nsampels: 4\n", ["unknown field 'sampels'", "'samples'"]),
        (
            HEAD + "  policy.decision.son_prefrence: {low: 0, high: 1}\ndesign: grid\n",
            ["parameters.policy.decision.son_prefrence", "'policy.decision.son_preference'"],
        ),
        (GOOD + "design: sobl\nsamples: 4\n", ["field 'design' = 'sobl'", "'sobol'", "'morris'"]),
        (GOOD + "design: sobol\nsamples: 100\n", ["'samples' = 100", "power of 2", "128"]),
        (GOOD + "design: sobol\n", ["'samples' is required", "sobol"]),
        (GOOD + "design: morris\nsamples: 4\nlevels: 5\n", ["'levels' = 5", "even"]),
        (
            GOOD + "design: grid\noutputs: [cbr, tfr_ture]\n",
            ["unknown output 'tfr_ture'", "Did you mean 'tfr_true'?"],
        ),
        (
            HEAD + FEE + "{low: 6, high: 2}\ndesign: grid\n",
            ["parameters.policy.fee.multiple", "low (6) must be below high (2)"],
        ),
        (
            HEAD + FEE + "{low: 2, hgh: 6}\ndesign: grid\n",
            ["'parameters.policy.fee.multiple.hgh'", "Did you mean 'high'?", ".high' is required"],
        ),
        (
            HEAD + FEE + "4\ndesign: grid\n",
            ["parameters.policy.fee.multiple' = 4", "a range {low: .., high: ..}, a list"],
        ),
        (
            HEAD + "  demography.srb: {dist: nrm, mean: 1}\ndesign: latin_hypercube\nsamples: 4\n",
            ["parameters.demography.srb.dist' = 'nrm'", "'norm'", "'truncnorm'"],
        ),
        (
            HEAD + "  demography.srb: {dist: norm, mean: 1.06, sd: 0.01}\ndesign: grid\n",
            ["'parameters.demography.srb'", "a grid takes ranges and lists"],
        ),
        (
            HEAD + "  policy.rules.regime: [one_child, 2]\ndesign: grid\n",
            ["'parameters.policy.rules.regime'", "all numbers, all text"],
        ),
        (
            HEAD + "  policy.checkups.interval_months: {low: 1.5, high: 6}\ndesign: grid\n",
            ["policy.checkups.interval_months", "integer field", "whole-number"],
        ),
        (
            "scenario: nowhere.yaml\nparameters:\n  demography.srb: [1.05]\ndesign: grid\n",
            ["field 'scenario' = 'nowhere.yaml'", "does not exist", "relative to the sweep file"],
        ),
        (GOOD + "design: grid\n  levels: 3\n", ["s.yaml", "line 5", "YAML syntax error"]),
        (GOOD + "design: grid\nreplicates: 0\n", ["'replicates' = 0", "greater than or equal"]),
        (GOOD + "design: grid\nseed: 18446744073709551616\n", ["'seed'", "9223372036854775807"]),
        (GOOD + "design: grid\nseed: true\n", ["field 'seed' = True", "valid integer"]),
    ],
)
def test_bad_sweep_files_say_which_field_and_why(tmp_path, body, fragments):
    path = sweep_file(tmp_path, body)
    with pytest.raises(SweepError) as info:
        load_sweep(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"


def test_an_alias_tree_in_a_sweep_file_is_reported_briefly(tmp_path):
    """7 wide and 11 deep: about 2e9 leaves, but the message shows only the top."""
    lines = ["a0: &a0 [1, 2, 3, 4, 5, 6, 7]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 7)}]" for i in range(1, 12)]
    body = GOOD + "design: grid\n" + "\n".join(lines) + "\nreplicates: *a11\n"
    with pytest.raises(SweepError) as info:
        load_sweep(sweep_file(tmp_path, body))
    message = str(info.value)
    assert "'replicates' = [[" in message and "..." in message
    assert len(message) < 5000


def test_design_point_outside_a_lever_range_fails_before_any_run(tmp_path, capsys):
    path = sweep_file(
        tmp_path,
        HEAD + "  policy.decision.son_preference: {low: 0.5, high: 1.2}\n"
        "  policy.fee.multiple: [2, 4]\ndesign: grid\nlevels: 3\n",
    )
    code = main([str(path), "--out", str(tmp_path / "out"), "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"popsim sweep: error: {path}: design point 4 ")
    assert "policy.decision.son_preference=1.2" in err
    assert "field 'policy.decision.son_preference' = 1.2" in err
    assert "less than or equal to 1" in err
    assert not (tmp_path / "out").exists(), "nothing is written when the sweep cannot start"


def test_manifest_records_the_sweep(tmp_path):
    path = small_sweep(tmp_path, "design: morris\nsamples: 1", reps=1)
    run_sweep(path, tmp_path / "out", workers=1, progress=False, echo=None)
    manifest = read_manifest(tmp_path / "out")
    assert manifest["design"] == "morris" and manifest["n_points"] == 3 == manifest["n_runs"]
    assert manifest["sweep_file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest["scalar_outputs"] == ["cbr", "tfr_true", "srb", "compliance_true"]
    assert manifest["table_outputs"] == ["annual"] and manifest["status"] == "complete"
    design = pd.read_parquet(tmp_path / "out" / "design.parquet")
    assert design.columns.tolist() == ["point", *manifest["parameter_names"]]
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == manifest


SWEEP_FILES = sorted((PARAMS / "sweeps").glob("*.yaml"))


@pytest.mark.parametrize("path", SWEEP_FILES, ids=[p.name for p in SWEEP_FILES])
def test_sweep_files_in_params_are_valid(path):
    the_plan = plan(load_sweep(path))
    spec = load_sweep(path).spec
    assert len(the_plan.tasks) == len(the_plan.points) * spec.replicates
    assert len(SWEEP_FILES) >= 2
