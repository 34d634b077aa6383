"""``popsim batch``: notebooks through papermill, the report, failures, and resuming after a kill.

The end-to-end tests run the real CLI in a subprocess at a small size (1500 persons, 2 years,
2 replicates) with the repository's notebooks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from html import escape
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from browser import open_page
from popsim import cli
from popsim.analysis import batch, execution
from popsim.outputs import replicates
from popsim.outputs.results import TABLES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BASELINE = ROOT / "params" / "baseline.yaml"
NO_CHECKUPS = ROOT / "params" / "scenarios" / "no_checkups.yaml"
SMALL = ["--replicates", "2", "--agents", "1500", "--years", "2"]


def _notebook(*sources: str, parameters: str | None = None) -> nbformat.NotebookNode:
    cells = [new_code_cell(s) for s in sources]
    if parameters is not None:
        cell = new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        cells.insert(0, cell)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def _batch(out: Path, *scenarios: Path, jobs: int = 2) -> list[str]:
    """The command line of a small batch of the repository's notebooks."""
    return [
        sys.executable, "-m", "popsim.cli", "batch", *map(str, scenarios), *SMALL,
        "--jobs", str(jobs), "--out", str(out), "--notebooks", str(NOTEBOOKS),
    ]  # fmt: skip


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=ROOT)


def _request(path: Path) -> replicates.Request:
    return replicates.request(path, {}, replicates=2, first_seed=0, n_agents=1500, years=2)


def _tables(folder: Path) -> dict[str, pd.DataFrame]:
    return replicates.read(folder)[1]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """An uninterrupted two-scenario batch, the reference for the other tests."""
    out = tmp_path_factory.mktemp("batch") / "out"
    return out, _run(_batch(out, BASELINE, NO_CHECKUPS))


# --- end to end -------------------------------------------------------------------------------


def _html_tables(html: str) -> list[list[dict[str, str]]]:
    """Every table of the report as rows of {column header: cell text}."""
    from bs4 import BeautifulSoup  # nbconvert's own dependency

    tables = []
    for table in BeautifulSoup(html, "html.parser").find_all("table"):
        if table.thead is None or table.tbody is None:
            continue
        head = [th.get_text(strip=True) for th in table.thead.find("tr").find_all("th")]
        rows = [
            [c.get_text(strip=True) for c in tr.find_all(["th", "td"])]
            for tr in table.tbody.find_all("tr")
        ]
        tables.append([dict(zip(head, row, strict=False)) for row in rows if row])
    return tables


def _close(shown: str, value: float, decimals: int) -> bool:
    return abs(float(shown.replace(",", "")) - value) <= 0.5 * 10**-decimals + 1e-9


def test_batch_writes_scenarios_and_report(finished):
    out, proc = finished
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "summary:" in proc.stdout and f"report: {out / 'report.html'}" in proc.stdout
    html = (out / "report.html").read_text(encoding="utf-8")
    for cell in nbformat.read(NOTEBOOKS / "compare.ipynb", as_version=4).cells:
        if cell.cell_type == "code":
            line = max(cell.source.splitlines(), key=len)
            assert escape(line) not in html, f"the report shows code: {line}"
    assert "data:image/png;base64," in html, "figures must be embedded in the report"
    cbr = {}
    for name, path in (("baseline", BASELINE), ("no_checkups", NO_CHECKUPS)):
        folder = out / name
        assert name in html
        assert replicates.is_complete(folder, _request(path))
        nb = nbformat.read(folder / "scenario.ipynb", as_version=4)
        assert nb.metadata.papermill.parameters["out_dir"] == str(folder)
        assert "end: done" in (folder / "log.txt").read_text()
        # the notebook's tables are exactly those of the same request run here
        direct = replicates.run(_request(path))
        for table, frame in _tables(folder).items():
            pd.testing.assert_frame_equal(frame, direct[table], check_exact=True, obj=table)
        by_seed = direct["annual"].groupby("seed")
        cbr[name] = 1000 * by_seed["births"].sum() / by_seed["person_years"].sum()

    # The report's numbers equal those computed here from the tables: the CBR pooled over
    # the years of each replicate, and the CBR table's means and paired difference (2 decimals).
    tables = _html_tables(html)
    cbr_column = "Crude birth rate (births per 1,000 person-years)"
    replicate_rows = [r for t in tables for r in t if {"Scenario (folder)", "Seed"} <= r.keys()]
    assert len(replicate_rows) == 4, "the report should list every replicate"
    for row in replicate_rows:
        expected = cbr[row["Scenario (folder)"]][int(row["Seed"])]
        assert _close(row[cbr_column], expected, 2), (row, expected)
    ref, scen = cbr["baseline"], cbr["no_checkups"]
    expected = {
        "Reference mean": ref.mean(),
        "Scenario mean": scen.mean(),
        "Difference": (scen - ref).mean(),
    }
    comparison_rows = [r for t in tables for r in t if {"Reference mean", "Difference"} <= r.keys()]
    assert any(
        r.get("Scenario") == "Check-ups abolished"
        and all(_close(r[k], v, 2) for k, v in expected.items())
        for r in comparison_rows
    ), f"no table shows the CBR comparison {expected}"


def test_every_scenario_has_a_page_that_opens_offline_without_errors(finished, tmp_path):
    out, proc = finished
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("baseline", "no_checkups"):
        html = (out / name / "scenario.html").read_text(encoding="utf-8")
        assert "data:image/png;base64," in html, f"{name}: figures must be embedded"
        assert not re.search(r"<script[^>]*\bsrc=", html), f"{name}: the page loads scripts"
    shown = {"baseline/scenario.html": "Key indicators over time", "report.html": "no_checkups"}
    for path, text in shown.items():
        page = open_page(out / path, tmp_path)
        assert page.errors == [], path
        assert page.images_loaded, (path, page.broken_images)
        assert text in page.text and page.screenshot.stat().st_size > 0, path


def test_rerun_skips_complete_scenarios(finished):
    out, _ = finished
    before = {p: p.stat().st_mtime_ns for p in out.glob("*/tables/*.parquet")}
    (out / "baseline" / "scenario.html").unlink()  # a complete scenario only lacking its page
    proc = _run(_batch(out, BASELINE, NO_CHECKUPS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(" skipped ") == 2, proc.stdout
    assert before == {p: p.stat().st_mtime_ns for p in out.glob("*/tables/*.parquet")}
    assert (out / "baseline" / "scenario.html").is_file()
    assert "wrote scenario.html" in (out / "baseline" / "log.txt").read_text().splitlines()[-1]


def test_killed_batch_resumes_without_recomputing(tmp_path, finished):
    reference, _ = finished
    out = tmp_path / "out"
    args = _batch(out, BASELINE, NO_CHECKUPS, jobs=1)  # one at a time, in order
    proc = subprocess.Popen(
        args, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    first = out / "baseline"
    deadline = time.monotonic() + 120
    while not ((first / "manifest.json").is_file() and (first / "scenario.ipynb").is_file()):
        assert proc.poll() is None and time.monotonic() < deadline, "batch ended too early"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "no_checkups" / "scenario.ipynb").exists(), "killed too late to test"
    # nothing visible is half-written: every notebook and manifest there parses
    for path in [*out.glob("*/*.ipynb"), *out.glob("*/manifest.json")]:
        if not path.name.startswith("."):
            json.loads(path.read_text())
    stamps = {p: p.stat().st_mtime_ns for p in [first / "manifest.json", *first.glob("tables/*")]}

    proc = _run(args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}, "baseline was recomputed"
    assert "skipped" in (first / "log.txt").read_text().splitlines()[-1]
    assert (out / "report.html").is_file()
    for name in ("baseline", "no_checkups"):
        ours, theirs = _tables(out / name), _tables(reference / name)
        for table in TABLES:
            pd.testing.assert_frame_equal(ours[table], theirs[table], check_exact=True, obj=table)


def test_failing_scenario_is_reported_and_others_complete(tmp_path):
    # A valid scenario whose notebook fails: the batch's notebooks raise for it after the
    # parameters cell (every input that cannot run is refused when the files load).
    broken = tmp_path / "broken.yaml"
    broken.write_text(f"extends: {BASELINE}\nname: broken\n")
    notebooks = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, notebooks)
    nb = nbformat.read(notebooks / "scenario.ipynb", as_version=4)
    first = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    fail = 'if scenario.endswith("broken.yaml"):\n    raise ValueError("this scenario cannot run")'
    nb.cells.insert(first + 1, new_code_cell(fail))
    nbformat.write(nb, notebooks / "scenario.ipynb")
    out = tmp_path / "out"
    args = _batch(out, broken, BASELINE)
    args[args.index("--notebooks") + 1] = str(notebooks)
    proc = _run(args)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "broken" in proc.stdout and "failed" in proc.stdout
    assert "cell In [" in proc.stdout and "ValueError" in proc.stdout, proc.stdout
    assert "end: failed: cell In [" in (out / "broken" / "log.txt").read_text()
    assert (out / "broken" / "scenario.failed.ipynb").is_file()
    assert not (out / "broken" / "scenario.ipynb").exists()
    assert not (out / "broken" / "manifest.json").exists()
    assert replicates.is_complete(out / "baseline", _request(BASELINE))


# --- pieces -----------------------------------------------------------------------------------


def test_kernel_runs_this_interpreter(tmp_path):
    assert execution.kernel_command()[0] == sys.executable
    nb = _notebook(
        "import sys, pathlib\npathlib.Path('where.txt').write_text(sys.executable)",
        parameters="x = 0",
    )
    nbformat.write(nb, tmp_path / "nb.ipynb")
    attempts = execution.execute(
        tmp_path / "nb.ipynb", tmp_path / "out.ipynb", {"x": 1}, tmp_path, failed=tmp_path / "f"
    )
    assert attempts == 1
    assert (tmp_path / "where.txt").read_text() == sys.executable
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _fake_papermill(monkeypatch, failures: list[tuple[bool, Exception]]):
    """papermill.execute_notebook that fails as listed (cell started?, error), then succeeds."""
    import papermill

    calls = []

    def execute_notebook(source, target, **kwargs):
        calls.append(target)
        nb = _notebook("1")
        if failures:
            started, error = failures.pop(0)
            nb.metadata["papermill"] = {}
            nb.cells[0].metadata["papermill"] = {"start_time": "2024-01-01" if started else None}
            nbformat.write(nb, target)
            raise error
        nbformat.write(nb, target)

    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)
    return calls


def test_kernel_start_failure_is_retried(tmp_path, monkeypatch):
    calls = _fake_papermill(monkeypatch, [(False, RuntimeError("Kernel died before replying"))])
    target = tmp_path / "out.ipynb"
    failed = tmp_path / "f"
    assert execution.execute(tmp_path / "in.ipynb", target, {}, tmp_path, failed=failed) == 2
    assert len(calls) == 2 and target.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.ipynb"]


def test_cell_errors_are_not_retried(tmp_path, monkeypatch):
    from papermill.exceptions import PapermillExecutionError

    error = PapermillExecutionError(3, 5, "1/0", "ZeroDivisionError", "division by zero", [])
    calls = _fake_papermill(monkeypatch, [(True, error)])
    source, target = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    failed = tmp_path / "failed.ipynb"
    with pytest.raises(PapermillExecutionError) as info:
        execution.execute(source, target, {}, tmp_path, failed=failed)
    assert len(calls) == 1 and failed.is_file() and not target.exists()
    assert execution.describe(info.value) == "cell In [5]: ZeroDivisionError: division by zero"
    # a kernel that dies mid-run is not a start failure either
    calls = _fake_papermill(monkeypatch, [(True, RuntimeError("Kernel died"))])
    with pytest.raises(RuntimeError):
        execution.execute(source, target, {}, tmp_path, failed=failed)
    assert len(calls) == 1


def test_set_and_vary_give_one_scenario_per_value_with_every_override(tmp_path):
    jobs, requests = batch.plan(
        [BASELINE, NO_CHECKUPS],
        tmp_path,
        replicates_=1,
        first_seed=0,
        n_agents=1500,
        years=2,
        overrides={"policy.fee.collection": 0.6},
        vary=("policy.incentives.scale", [0.5, 1, 2]),
    )
    names = [
        name
        for s in ("baseline", "no_checkups")
        for name in (s, *(f"{s}_scale_{v}" for v in (0.5, 1, 2)))
    ]
    assert [job.name for job in jobs] == names == list(requests)
    for job in jobs[1:4] + jobs[5:]:
        scenario = requests[job.name].scenario
        value = float(job.name.rsplit("_", 1)[1])
        assert scenario.name == job.name and job.out == tmp_path / job.name
        assert scenario.policy.incentives.scale == value
        assert scenario.policy.fee.collection == 0.6
        assert job.params["overrides"] == {
            "policy.fee.collection": 0.6,
            "policy.incentives.scale": value,
            "name": job.name,
        }
    assert not requests["no_checkups_scale_1"].scenario.policy.checkups.enabled
    unvaried = requests["baseline"].scenario
    assert unvaried.policy.incentives.scale == 1 and unvaried.policy.fee.collection == 0.6
    assert jobs[0].params["overrides"] == {"policy.fee.collection": 0.6}


def test_csv_export_holds_every_table_as_written(tmp_path):
    replicates.run(_request(BASELINE), tmp_path)
    batch.export_csv(tmp_path)
    for name, frame in _tables(tmp_path).items():
        back = pd.read_csv(tmp_path / "csv" / f"{name}.csv")
        assert list(back.columns) == list(frame.columns), name
        assert len(back) == len(frame), name
        numeric = frame.select_dtypes("number").columns
        pd.testing.assert_frame_equal(
            back[numeric], frame[numeric].reset_index(drop=True), check_dtype=False, rtol=1e-12
        )


def test_default_scenario_set():
    paths = batch.default_scenarios()
    assert paths[0] == BASELINE
    assert paths[1:] == sorted((ROOT / "params" / "scenarios").glob("*.yaml"))
    assert batch.default_notebooks() == ROOT / "notebooks"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([str(BASELINE), str(BASELINE)], "are both named 'baseline'"),
        ([str(NO_CHECKUPS)], "--reference 'baseline' is not among"),
        ([str(BASELINE), "--notebooks", "/nonexistent"], "no scenario.ipynb"),
        ([str(BASELINE), "--replicates", "0"], "must be an integer >= 1"),
        ([str(BASELINE).replace(".yaml", ".yml")], "scenario file not found"),
        ([str(BASELINE), "--vary", "policy.incentives.scale=2"], "two or more values"),
        ([str(BASELINE), "--vary", "policy.incentives.scale=2,2"], "give distinct values"),
        ([str(BASELINE), "--vary", "policy.incentives.scale=1,-2"], "policy.incentives.scale"),
        ([str(BASELINE), "--set", "policy.fee.colection=0.6"], "Did you mean 'collection'"),
    ],
)
def test_bad_batch_arguments_exit_2(args, message, tmp_path, capsys):
    argv = ["batch", *args, "--out", str(tmp_path / "out")]
    if "--notebooks" not in args:
        argv += ["--notebooks", str(NOTEBOOKS)]
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert "Traceback" not in err and not (tmp_path / "out").exists()
