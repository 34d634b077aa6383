"""The batch report as a document: its sentences, design and numbers against the tables."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup  # nbconvert's own dependency

from popsim.analysis import comparison, document
from popsim.outputs import replicates
from popsim.version import code_version

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "params" / "baseline.yaml"
SCENARIOS = ROOT / "params" / "scenarios"
SIZE = {"replicates": 3, "n_agents": 4000, "years": 6}
FIELD = "policy.incentives.scale"


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory) -> Path:
    """Three scenarios and a two-point dose-response of the baseline, without notebooks."""
    out = tmp_path_factory.mktemp("report")
    runs = {
        "baseline": (BASELINE, {}),
        "no_checkups": (SCENARIOS / "no_checkups.yaml", {}),
        "incentives_doubled": (SCENARIOS / "incentives_doubled.yaml", {}),
        "baseline_scale_0.5": (BASELINE, {FIELD: 0.5, "name": "baseline_scale_0.5"}),
        "baseline_scale_3": (BASELINE, {FIELD: 3, "name": "baseline_scale_3"}),
    }
    for name, (path, overrides) in runs.items():
        replicates.run(replicates.request(path, overrides, **SIZE), out / name)
    document.write_report(out, "baseline")
    return out


@pytest.fixture(scope="module")
def page(batch_dir) -> BeautifulSoup:
    return BeautifulSoup((batch_dir / "report.html").read_text(encoding="utf-8"), "html.parser")


@pytest.fixture(scope="module")
def tables(batch_dir) -> dict:
    batch = replicates.read_batch(batch_dir, comparison.NEEDED)
    return comparison.comparison_tables(comparison.summarise(batch), "baseline")


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _bounds(row) -> tuple[float, float]:
    """The interval as a finding writes it: magnitudes when it does not include zero."""
    low, high = row["paired_low"], row["paired_high"]
    if not low <= 0 <= high:
        low, high = sorted((abs(low), abs(high)))
    return low, high


BIRTHS = re.compile(
    r"about ([\d,]+) (more|fewer) births over (\d+) years \(95 % interval ([-\d,]+) to ([-\d,]+)\)"
)
TFR = re.compile(r"fertility rate ([\d.]+) (higher|lower) \(95 % interval ([-\d.]+) to ([-\d.]+)\)")


def test_findings_state_the_tables_numbers(page, tables):
    items = page.select("#findings li.finding")
    assert {li["data-scenario"] for li in items} == set(tables["births"].index)
    for li in items:
        name, text = li["data-scenario"], li.get_text()
        births, tfr = tables["births"].loc[name], tables["tfr"].loc[name]
        unchanged = births[["difference", "paired_low", "paired_high"]].eq(0).all()
        said_unchanged = f"births over {SIZE['years']} years unchanged in every replicate"
        assert (said_unchanged in text) == unchanged, text
        if not unchanged:
            m = BIRTHS.search(text)
            assert m, text
            assert _number(m[1]) == round(abs(births["difference"]))
            assert m[2] == ("more" if births["difference"] > 0 else "fewer")
            assert int(m[3]) == SIZE["years"]
            low, high = _bounds(births)
            assert (_number(m[4]), _number(m[5])) == (round(low), round(high))
        m = TFR.search(text)
        assert m, text
        assert float(m[1]) == pytest.approx(abs(tfr["difference"]), abs=5e-4)
        assert m[2] == ("higher" if tfr["difference"] > 0 else "lower")
        low, high = _bounds(tfr)
        assert float(m[3]) == pytest.approx(low, abs=5e-4)
        assert float(m[4]) == pytest.approx(high, abs=5e-4)
        # zero in every pair is "unchanged", not uncertain
        crosses = births["paired_low"] <= 0 <= births["paired_high"] and not unchanged
        assert ("uncertain" in li["class"]) == crosses
        assert ("interval includes zero" in text) == crosses


def test_findings_rank_by_the_size_of_the_effect(page, tables):
    order = [li["data-scenario"] for li in page.select("#findings li.finding")]
    sizes = tables["births"]["difference"].abs()
    assert list(sizes.loc[order]) == sorted(sizes, reverse=True)


def test_design_states_the_batch_as_run(batch_dir, page):
    text = page.select_one("#design").get_text(" ")
    assert "3 per scenario, seeds 0 to 2" in text
    assert "4,000 persons" in text
    assert "6: 2009 to 2014" in text
    assert "10 years before 2009" in text
    assert code_version() in text
    for name in ("no_checkups", "incentives_doubled"):
        description = replicates.read(batch_dir / name, ())[0]["description"]
        assert description in text
    # scenarios are named in words, by their description, everywhere else
    assert "Check-ups abolished" in page.select_one("#effects").get_text()


def test_no_nan_and_no_scientific_notation(page):
    page = copy.copy(page)
    for img in page.find_all("img"):
        img.decompose()
    text = page.get_text(" ")
    assert not re.search(r"\bnan\b", text, re.IGNORECASE)
    assert not re.search(r"\d[eE][+-]\d", text)  # as Python writes it: 1e+07, 2.1e-05
    money = page.select_one("#costs").get_text(" ")
    assert "million yuan" in money and "thousand yuan" in money


def test_dose_response_equals_the_scenarios_own_results(page, tables):
    section = page.select_one("#dose-response")
    assert section is not None and section.find("img") is not None
    rows = section.find("table").tbody.find_all("tr")
    values = [_number(r.find("th").get_text()) for r in rows]
    assert values == [0.5, 1.0, 3.0]  # the baseline at its own value, in order
    for row, name in zip(rows, ["baseline_scale_0.5", "baseline", "baseline_scale_3"], strict=True):
        cell = row.find_all("td")[1].get_text(" ").split()  # births averted: value, interval
        expected = 0.0 if name == "baseline" else tables["births_averted"].loc[name, "difference"]
        assert _number(cell[0]) == round(expected)


def test_report_is_rewritten_atomically_and_names_a_missing_reference(batch_dir):
    before = (batch_dir / "report.html").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="reference scenario 'nope'"):
        document.write_report(batch_dir, "nope")
    assert (batch_dir / "report.html").read_text(encoding="utf-8") == before


def test_the_ensemble_section_shows_the_effects_across_parameter_sets(tmp_path):
    from popsim.analysis import ensemble

    size = {"replicates": 2, "n_agents": 1500, "years": 2}
    for trial, rate in ((1, 0.15), (2, 0.3)):
        for name, path in (("baseline", BASELINE), ("no_checkups", SCENARIOS / "no_checkups.yaml")):
            member = f"{name}.set{trial}"
            overrides = {"policy.decision.try_rate": rate, "name": member}
            replicates.run(replicates.request(path, overrides, **size), tmp_path / member)
    for name, path in (("baseline", BASELINE), ("no_checkups", SCENARIOS / "no_checkups.yaml")):
        replicates.run(replicates.request(path, {}, **size), tmp_path / name)
    document.write_report(tmp_path, "baseline")
    page = BeautifulSoup((tmp_path / "report.html").read_text(encoding="utf-8"), "html.parser")
    findings = [li["data-scenario"] for li in page.select("#findings li.finding")]
    assert findings == ["no_checkups"], "ensemble members are not scenarios of their own"
    rows = page.select_one("#uncertainty table").tbody.find_all("tr")
    batch = replicates.read_batch(tmp_path, comparison.NEEDED)
    expected = ensemble.table(ensemble.split_batch(batch)[1], "baseline")
    assert len(rows) == len(expected) == len(ensemble.SHOWN)
    for row, (_, want) in zip(rows, expected.iterrows(), strict=True):
        cells = [c.get_text() for c in row.find_all(["th", "td"])]
        assert want["effect"] in cells[0] and int(cells[1]) == 2
        assert cells[5] == ("yes" if want["sign_depends"] else "no")
        if want["effect"].startswith("Births averted"):
            assert _number(cells[2]) == round(want["difference"])
