"""The step table: each step touches only what it declares, and shared columns say why.

The audit (``step_audit.py``) runs real months of several scenarios step by step and
records the person and household columns each step reads and changes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import popsim
from popsim.model import PopsimModel
from popsim.model.step import Step, markdown
from popsim.model.steps import SHARED, STEPS
from popsim.outputs.runner import resize
from popsim.state.population import PERSON_COLUMNS
from step_audit import audit

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = (
    "params/baseline.yaml",
    "params/scenarios/two_child_year5.yaml",
    "params/scenarios/full_checkups.yaml",
    "params/core.yaml",
    "params/analytic.yaml",
)
#: ages come from birth_month through the world's per-month cache, so which step asks for
#: birth_month first depends on the order; the table does not list it
AGE = {"birth_month"}


def _columns(names) -> set[str]:
    known = set(PERSON_COLUMNS) | {"households.village", "households.key", "households.wealth"}
    return {n for n in names if n in known}


@pytest.fixture(scope="module")
def observed():
    reads, writes, added = {}, {}, {}
    for path in SCENARIOS:
        scenario = resize(popsim.load_scenario(ROOT / path), 3000, 3)
        r, w, a = audit(PopsimModel(scenario, seed=4), months=36)
        for into, got in ((reads, r), (writes, w), (added, a)):
            for step, names in got.items():
                into.setdefault(step, set()).update(names)
    return reads, writes, added


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_a_step_writes_only_the_columns_it_declares(step: Step, observed):
    _, writes, added = observed
    undeclared = writes.get(step.name, set()) - set(step.writes)
    assert not undeclared, f"step {step.name} writes {sorted(undeclared)} without declaring it"
    rows = added.get(step.name, set()) - set(step.writes)
    assert not rows, f"step {step.name} appends {sorted(rows)} without declaring it"


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_a_step_reads_only_the_columns_it_declares(step: Step, observed):
    reads, _, _ = observed
    undeclared = reads.get(step.name, set()) - set(step.reads) - set(step.writes) - AGE
    assert not undeclared, f"step {step.name} reads {sorted(undeclared)} without declaring it"


def test_every_declared_person_write_happens(observed):
    """A declared write that never happens in any audited scenario is a stale declaration."""
    _, writes, _ = observed
    rare = {  # paths the small audited runs need not reach
        ("mortality", "preg_month"),
        ("migration", "preg_month"),
        ("marriage", "preg_month"),
        ("checkups", "desired"),
        ("checkups", "son_pref"),
        ("sex_selection", "out_of_plan"),  # a girl aborted in an out-of-plan pregnancy
        # a couple still wanting a child completes LARC: in the baseline only son seekers,
        # who refuse at 8 times the others' odds (3 in 3 years of 3,000 persons at odds 1)
        ("contraception", "wants_more"),
        # a newborn dying in its birth month: about 1 in 600 births, and the audit has about
        # that many, so whether one happens depends on the seed's draws
        ("newborn_mortality", "alive"),
    }
    for step in STEPS:
        declared = _columns(step.writes)
        missing = declared - writes.get(step.name, set()) - {c for s, c in rare if s == step.name}
        assert not missing, f"step {step.name} declares writes it never makes: {sorted(missing)}"


def test_each_column_has_one_writer_or_a_reason():
    writers: dict[str, list[str]] = {}
    for step in STEPS:
        for name in _columns(step.writes):
            writers.setdefault(name, []).append(step.name)
    shared = {name for name, steps in writers.items() if len(steps) > 1}
    assert shared - set(SHARED) == set(), "columns with several writers need a reason in SHARED"
    assert set(SHARED) - shared == set(), "SHARED lists columns that have one writer"


def test_the_audit_catches_an_undeclared_write():
    scenario = resize(popsim.load_scenario(ROOT / "params/core.yaml"), 500, 1)
    model = PopsimModel(scenario, seed=1)

    def sneaky(world):
        world.persons.parity[:3] += 1

    model.month_steps = (Step("sneaky", sneaky, "world", (), (), "writes parity undeclared"),)
    _, writes, _ = audit(model, months=1)
    assert writes["sneaky"] == {"parity"}


def test_docs_show_the_table_generated_from_the_code():
    text = (ROOT / "docs" / "model.md").read_text()
    assert markdown(STEPS) in text, "regenerate the table: ./dev shell python scripts/step_table.py"
