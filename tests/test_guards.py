"""Resource guards: too much memory, too many runs or an unwritable --out are refused up front.

None of these tests allocates a large population or starts a sweep's runs: the memory
available is patched or bounded, and every refusal is checked to come before any work.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

import popsim
from popsim import cli
from popsim.outputs import guards, runner
from popsim.scenario.loading import ScenarioError
from popsim.sweeps import design, sweep

REPO = Path(__file__).resolve().parents[1]
PARAMS = REPO / "params"
BASELINE = (PARAMS / "baseline.yaml").as_posix()
MB = 2**20


def popsim_cli(*args: str | Path, cwd: Path, limit_as: int | None = None):
    env = dict(os.environ)
    env.pop(guards.SKIP_MEMORY_CHECK, None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), *filter(None, [env.get("PYTHONPATH")])])

    def bound() -> None:
        if limit_as is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))

    return subprocess.run(
        [sys.executable, "-m", "popsim.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=bound,
    )


def assert_clean(proc: subprocess.CompletedProcess[str], prefix: str, *pieces: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(prefix), proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr  # one paragraph
    for piece in pieces:
        assert piece in proc.stderr, f"{piece!r} not in {proc.stderr!r}"


# --- memory ------------------------------------------------------------------------------------


def test_estimate_grows_with_size_and_years_and_inverts():
    small, big = guards.estimate_peak_bytes(10_000, 2), guards.estimate_peak_bytes(1_000_000, 2)
    assert 20 * MB < small < big
    assert guards.estimate_peak_bytes(50_000, 20) > guards.estimate_peak_bytes(50_000, 2)
    # 50 million persons (the schema's maximum) need gigabytes, not the 286 MiB of one array
    assert guards.estimate_peak_bytes(50_000_000, 20) > 10 * 2**30
    for available, years in [(4 * 2**30, 20), (500 * MB, 2), (guards.FIXED_BYTES + 1, 5)]:
        n = guards.largest_fitting(available, years)
        assert guards.estimate_peak_bytes(n, years) <= available
        assert guards.estimate_peak_bytes(n + 1, years) > available
    assert guards.largest_fitting(MB, 2) == 0


def test_available_memory_is_known_on_linux():
    available = guards.available_memory()
    if sys.platform.startswith("linux"):
        assert available is not None and available > 0


def test_too_large_run_is_refused_before_the_model_is_built(monkeypatch):
    monkeypatch.delenv(guards.SKIP_MEMORY_CHECK, raising=False)
    monkeypatch.setattr(guards, "available_memory", lambda: 200 * MB)

    def never(*args, **kwargs):
        raise AssertionError("the model was built")

    monkeypatch.setattr(runner, "PopsimModel", never)
    scenario = popsim.load_scenario(None)
    with pytest.raises(ScenarioError) as info:
        runner.simulate(scenario, seed=1, n_agents=5_000_000, years=20)
    message = str(info.value)
    fits = guards.largest_fitting(200 * MB, 20)
    assert "\n" not in message
    for piece in ("5,000,000 persons", "20 years", "200 MB", f"about {fits:,} persons"):
        assert piece in message, message
    assert guards.SKIP_MEMORY_CHECK in message
    with pytest.raises(AssertionError, match="the model was built"):  # the overrides
        runner.simulate(scenario, seed=1, n_agents=5_000_000, years=20, check_memory=False)
    monkeypatch.setenv(guards.SKIP_MEMORY_CHECK, "1")
    with pytest.raises(AssertionError, match="the model was built"):
        runner.simulate(scenario, seed=1, n_agents=5_000_000, years=20)


def test_fifty_million_persons_under_an_address_space_cap_is_a_clean_error(tmp_path):
    proc = popsim_cli(
        "run", "--agents", "50000000", "--years", "20", "--out", tmp_path / "out",
        cwd=tmp_path, limit_as=4 * 2**30,
    )  # fmt: skip
    assert_clean(proc, "popsim: error:", "50,000,000 persons", "largest population", "--agents")
    assert not (tmp_path / "out").exists(), "nothing is written"


def test_a_batch_too_big_for_memory_is_refused_before_any_scenario(tmp_path):
    """Two runs at once of 20 million persons each: refused up front, not once per scenario."""
    proc = popsim_cli(
        "batch", BASELINE, PARAMS / "core.yaml", "--agents", "20000000", "--years", "20",
        "--jobs", "2",
        "--out", tmp_path / "out", cwd=tmp_path, limit_as=8 * 2**30,
    )  # fmt: skip
    assert_clean(proc, "popsim: error:", "2 runs at once", "20,000,000 persons", "each")
    assert not (tmp_path / "out" / "baseline").exists(), "no scenario started"


# --- sweeps and calibrations -------------------------------------------------------------------

GRID_200 = (
    f"scenario: {BASELINE}\nparameters:\n"
    "  policy.decision.son_preference: {low: 0.4, high: 0.8}\n"
    "  policy.decision.try_rate: {low: 0.03, high: 0.1}\n"
    "  policy.reporting.out_of_plan: {low: 0.05, high: 0.5}\n"
    "design: grid\nlevels: 200\nn_agents: 1000\nyears: 2\n"
)


def test_eight_million_run_grid_is_refused_before_its_design(tmp_path, monkeypatch, capsys):
    path = tmp_path / "huge.yaml"
    path.write_text(GRID_200)
    assert design.n_runs(sweep.load_sweep(path).spec) == 8_000_000

    def never(*args, **kwargs):
        raise AssertionError("the design was drawn")

    monkeypatch.setattr(sweep, "plan", never)
    code = sweep.main([str(path), "--out", str(tmp_path / "out"), "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("popsim sweep: error: sweep ") and err.count("\n") == 1
    assert "8,000,000 runs" in err and "--allow-large" in err
    assert not (tmp_path / "out").exists(), "nothing is written"


def test_allow_large_confirms(tmp_path, monkeypatch):
    path = tmp_path / "small.yaml"
    path.write_text(GRID_200.replace("levels: 200", "levels: 3"))
    monkeypatch.setattr(design, "LARGE_RUNS", 10)  # 27 runs is now "large"

    class Drawn(Exception):
        pass

    def drawn(*args, **kwargs):
        raise Drawn

    monkeypatch.setattr(sweep, "plan", drawn)
    with pytest.raises(design.SweepError, match="27 runs"):
        sweep.run_sweep(path, tmp_path / "out", workers=1, progress=False, echo=None)
    with pytest.raises(Drawn):
        sweep.run_sweep(path, tmp_path / "out", workers=1, progress=False, allow_large=True)


def test_large_calibration_is_refused(tmp_path, monkeypatch, capsys):
    text = (PARAMS / "calibration" / "demo.yaml").read_text()
    text = text.replace("../baseline.yaml", BASELINE).replace("trials: 16", "trials: 100000")
    text = text.replace("targets: targets.yaml", f"targets: {PARAMS / 'calibration/targets.yaml'}")
    path = tmp_path / "cal.yaml"
    path.write_text(text)
    monkeypatch.setattr("popsim.calibration.fit.calibrate", lambda *a, **k: 1 / 0)
    code = cli.main(["calibrate", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("popsim calibrate: error: calibration ")
    assert "100,006 runs" in err and "--allow-large" in err  # + 2 candidates, start: 2 seeds
    assert not (tmp_path / "out").exists()


# --- --out -------------------------------------------------------------------------------------


def test_writable_check_creates_nothing_and_names_the_option(tmp_path, monkeypatch):
    target = tmp_path / "a" / "b"
    assert guards.check_writable(target) == target
    assert not (tmp_path / "a").exists(), "the folders made for the test are removed"
    (tmp_path / "file").write_text("x")
    for bad in (tmp_path / "file", tmp_path / "file" / "out"):
        with pytest.raises(ScenarioError, match=f"--out {bad}: "):
            guards.check_writable(bad, "--out")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "ro"))

    monkeypatch.setattr(guards.tempfile, "NamedTemporaryFile", denied)
    (tmp_path / "ro").mkdir()
    with pytest.raises(ScenarioError, match="Permission denied") as info:
        guards.check_writable(tmp_path / "ro", "--out")
    assert str(info.value).startswith(f"--out {tmp_path / 'ro'}: cannot write there")


def test_run_checks_out_before_simulating(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("x")
    monkeypatch.setattr(runner, "simulate", lambda *a, **k: 1 / 0)
    code = cli.main(["run", "--agents", "100", "--years", "1", "--out", str(tmp_path / "file/x")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"popsim: error: --out {tmp_path / 'file/x'}: "), err


@pytest.mark.parametrize(
    ("command", "prefix"),
    [
        (["run", "--agents", "100", "--years", "1"], "popsim: error:"),
        (["batch", BASELINE, "--replicates", "1", "--agents", "100", "--years", "1"],
         "popsim: error:"),
        (["sweep", str(PARAMS / "sweeps" / "demo.yaml")], "popsim sweep: error:"),
        (["calibrate", str(PARAMS / "calibration" / "demo.yaml")], "popsim calibrate: error:"),
    ],
)  # fmt: skip
def test_out_below_a_file_is_a_clean_error(tmp_path, command, prefix):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "out"
    proc = popsim_cli(*command, "--out", out, cwd=tmp_path)
    assert_clean(proc, prefix, f"--out {out}", "Not a directory")
    assert (tmp_path / "file").read_text() == "x"
