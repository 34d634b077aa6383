"""The scenario schema and its loader: good files load, every bad input says clearly why not.

Each bad input must raise :class:`ScenarioError` with a one-paragraph message that names the
file (or "overrides"), the dotted field path, the bad value and what is allowed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from conftest import SCENARIO_FILES
from popsim.scenario.demography import N_AGES, N_REPRO, Scenario
from popsim.scenario.loading import ScenarioError, load_scenario, parse_override

REPO = Path(__file__).resolve().parents[1]
PARAM_FILES = SCENARIO_FILES


def write(folder: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def flow(values: list[float]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


def error_of(tmp_path: Path, files: dict, entry: str | None, overrides: dict | None) -> str:
    write(tmp_path, files)
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / entry if entry else None, overrides)
    return str(info.value)


# --- bad input: one table, each case lists what its message must contain ------------------

MX_WITH_NEGATIVE = [0.01] * N_AGES
MX_WITH_NEGATIVE[40] = -0.5
ASFR_WITH_NEGATIVE = [0.05] * N_REPRO
ASFR_WITH_NEGATIVE[10] = -0.2

BAD = [
    # (id, files, entry file or None, overrides, pieces the message must contain)
    (
        "yaml-syntax",
        {"s.yaml": "name: x\ndemography:\n  srb: 1.05\n\tfertility: {}\n"},
        "s.yaml",
        None,
        ["s.yaml", "line 4", "YAML syntax error"],
    ),
    (
        "unknown-top-level-key",
        {"s.yaml": "name: x\ncolour: red\n"},
        "s.yaml",
        None,
        ["s.yaml", "unknown field 'colour'", "Allowed here", "township"],
    ),
    (
        "misspelled-nested-key",
        {"s.yaml": "demography:\n  fertilty:\n    mode: asfr\n"},
        "s.yaml",
        None,
        ["s.yaml", "'demography.fertilty'", "Did you mean 'fertility'?"],
    ),
    (
        "misspelled-deep-key",
        {"s.yaml": "demography:\n  marriage:\n    min_age_femal: 21\n"},
        "s.yaml",
        None,
        ["s.yaml", "'demography.marriage.min_age_femal'", "Did you mean 'min_age_female'?"],
    ),
    (
        "wrong-type",
        {"s.yaml": "township:\n  n_persons: lots\n"},
        "s.yaml",
        None,
        ["s.yaml", "'township.n_persons'", "'lots'", "integer"],
    ),
    (
        "section-given-a-scalar",
        {"s.yaml": "township: 5\n"},
        "s.yaml",
        None,
        ["s.yaml", "'township'", "5", "dictionary"],
    ),
    (
        "choice-not-allowed",
        {"s.yaml": "demography:\n  fertility:\n    mode: lottery\n"},
        "s.yaml",
        None,
        ["s.yaml", "'demography.fertility.mode'", "'lottery'", "'marriage'", "'asfr'"],
    ),
    (
        "probability-above-1",
        {"s.yaml": "demography:\n  marriage:\n    marry_out_share: 1.5\n"},
        "s.yaml",
        None,
        ["s.yaml", "'demography.marriage.marry_out_share'", "1.5", "less than or equal to 1"],
    ),
    (
        "probability-nan",
        {"s.yaml": "demography:\n  marriage:\n    marry_out_share: .nan\n"},
        "s.yaml",
        None,
        ["s.yaml", "'demography.marriage.marry_out_share'", "nan"],
    ),
    (
        "negative-rate",
        {"s.yaml": "demography:\n  migration:\n    emigration_rate: -0.1\n"},
        "s.yaml",
        None,
        ["s.yaml", "'demography.migration.emigration_rate'", "-0.1", "greater than or equal to 0"],
    ),
    (
        "table-wrong-length",
        {"s.yaml": "demography:\n  fertility:\n    asfr: [0.1, 0.2, 0.3]\n"},
        "s.yaml",
        None,
        ["s.yaml", "'demography.fertility.asfr'", "[0.1, 0.2, 0.3]", "35 values", "got 3"],
    ),
    (
        "age-table-wrong-length",
        {"s.yaml": f"demography:\n  mortality:\n    mx_male: {flow([0.01] * 100)}\n"},
        "s.yaml",
        None,
        ["s.yaml", "'demography.mortality.mx_male'", "100 items", "101 values", "got 100"],
    ),
    (
        "table-negative-entry",
        {"s.yaml": f"demography:\n  mortality:\n    mx_male: {flow(MX_WITH_NEGATIVE)}\n"},
        "s.yaml",
        None,
        ["s.yaml", "'demography.mortality.mx_male.40'", "-0.5", "greater than or equal to 0"],
    ),
    (
        "repro-table-negative-entry",
        {"s.yaml": f"demography:\n  fertility:\n    asfr: {flow(ASFR_WITH_NEGATIVE)}\n"},
        "s.yaml",
        None,
        ["s.yaml", "'demography.fertility.asfr.10'", "-0.2", "greater than or equal to 0"],
    ),
    (
        "extends-missing-file",
        {"s.yaml": "extends: missing_parent.yaml\nname: x\n"},
        "s.yaml",
        None,
        ["s.yaml", "'extends'", "missing_parent.yaml", "does not exist"],
    ),
    (
        "extends-not-a-path",
        {"s.yaml": "extends: [a.yaml]\n"},
        "s.yaml",
        None,
        ["s.yaml", "'extends'", "['a.yaml']", "file path"],
    ),
    (
        "extends-circular",
        {"a.yaml": "extends: b.yaml\nname: a\n", "b.yaml": "extends: a.yaml\nname: b\n"},
        "a.yaml",
        None,
        ["a.yaml", "b.yaml", "'extends'", "cycle"],
    ),
    (
        "extends-itself",
        {"a.yaml": "extends: a.yaml\n"},
        "a.yaml",
        None,
        ["a.yaml", "'extends'", "cycle"],
    ),
    (
        "unsafe-yaml-tag",
        {"s.yaml": 'name: !!python/object/apply:os.system ["echo hi"]\n'},
        "s.yaml",
        None,
        ["s.yaml", "line 1", "python/object/apply:os.system", "not allowed"],
    ),
    (
        "duplicate-key",
        {"s.yaml": "name: x\ntownship:\n  years: 3\n  years: 4\n"},
        "s.yaml",
        None,
        ["s.yaml", "line 4", "duplicate key 'years'"],
    ),
    (
        "duplicate-top-level-key",
        {"s.yaml": "name: x\nname: y\n"},
        "s.yaml",
        None,
        ["s.yaml", "line 2", "duplicate key 'name'"],
    ),
    (
        "unhashable-key",
        {"s.yaml": "? [a, b]\n: 1\n"},
        "s.yaml",
        None,
        ["s.yaml", "line 1", "unhashable key"],
    ),
    (
        "top-level-list",
        {"s.yaml": "- name: x\n- name: y\n"},
        "s.yaml",
        None,
        ["s.yaml", "mapping", "found list"],
    ),
    (
        "top-level-scalar",
        {"s.yaml": "just words\n"},
        "s.yaml",
        None,
        ["s.yaml", "mapping", "found str"],
    ),
    ("missing-file", {}, "nowhere.yaml", None, ["nowhere.yaml", "not found"]),
    (
        "not-utf8",
        {"s.yaml": "name: caf\xe9\n".encode("latin-1")},
        "s.yaml",
        None,
        ["s.yaml", "UTF-8"],
    ),
    ("control-character", {"s.yaml": "name: a\x07b\n"}, "s.yaml", None, ["s.yaml", "#x0007"]),
    (
        "override-unknown-field",
        {},
        None,
        {"demography.srbb": 1.0},
        ["overrides", "'demography.srbb'", "Did you mean 'srb'?"],
    ),
    (
        "override-out-of-range",
        {},
        None,
        {"demography.srb": 10.0},
        ["overrides", "'demography.srb'", "10.0", "less than or equal to 5"],
    ),
    (
        "override-not-a-dotted-path",
        {},
        None,
        {"demography..srb": 1.0},
        ["overrides", "'demography..srb'", "dotted field path"],
    ),
    (
        "override-inside-a-value",
        {},
        None,
        {"name.first": "x"},
        ["overrides", "'name'", "{'first': 'x'}", "string"],
    ),
    (
        "override-bad-value-on-a-file",
        {"s.yaml": "name: x\n"},
        "s.yaml",
        {"township.years": 0},
        ["overrides", "'township.years'", "0", "greater than or equal to 1"],
    ),
    # booleans are not numbers: pydantic would read true as 1 (a 1-year run)
    (
        "bool-for-an-integer",
        {"s.yaml": "township: {years: true}\n"},
        "s.yaml",
        None,
        ["s.yaml", "'township.years'", "True", "a number is needed"],
    ),
    (
        "yes-for-a-probability",
        {"s.yaml": "policy:\n  fee:\n    collection: yes\n"},
        "s.yaml",
        None,
        ["s.yaml", "'policy.fee.collection'", "True", "a number is needed"],
    ),
    (
        "bool-in-a-list-of-numbers",
        {"s.yaml": "demography: {fertility: {parity_progression: [0.9, on]}}\n"},
        "s.yaml",
        None,
        ["s.yaml", "'demography.fertility.parity_progression'", "item 1", "a number is needed"],
    ),
    (
        "bool-override",
        {},
        None,
        {"demography.srb": False},
        ["overrides", "'demography.srb'", "False", "a number is needed"],
    ),
    # checks across fields
    (
        "reversed-range",
        {"s.yaml": "demography:\n  migration: {labour_age_min: 60, labour_age_max: 16}\n"},
        "s.yaml",
        None,
        ["s.yaml", "'demography.migration.labour_age_min' = 60", "labour_age_max (16)"],
    ),
    (
        "distribution-summing-to-zero",
        {"s.yaml": "policy: {decision: {desired_size: [0, 0, 0]}}\n"},
        "s.yaml",
        None,
        ["s.yaml", "'policy.decision.desired_size'", "(0.0, 0.0, 0.0)", "sum to 1"],
    ),
    (
        "all-zero-initial-weights",
        {
            "s.yaml": f"initial:\n  male_by_age: {flow([0] * N_AGES)}\n"
            f"  female_by_age: {flow([0] * N_AGES)}\n"
        },
        "s.yaml",
        None,
        ["s.yaml", "'initial.female_by_age'", "all zero", "positive weight"],
    ),
    (
        "weights-only-at-ages-the-burn-in-skips",
        {},
        None,
        {
            "initial.female_by_age": [1.0] * 5 + [0.0] * (N_AGES - 5),
            "initial.male_by_age": [0.0] * N_AGES,
        },
        [
            "overrides",
            "'initial.female_by_age'",
            "ages below 12",
            "township.burn_in_years",
            "initial.as_of_year",
        ],
    ),
    (
        "mortality-killing-every-newborn",
        {"s.yaml": f"demography:\n  mortality:\n    mx_male: {flow([1000] * N_AGES)}\n"},
        "s.yaml",
        None,
        ["s.yaml", "'demography.mortality.mx_male.0' = 1000", "no newborn alive", "449"],
    ),
    (
        "mortality-nobody-survives-the-burn-in",
        {},
        None,
        {
            "demography.mortality.mx_female": [0.01] * 50 + [300.0] * (N_AGES - 50),
            "demography.mortality.periods": [],
        },
        [
            "overrides",
            "'demography.mortality.mx_female'",
            "nobody aged 41",
            "age 53",
            "initial.as_of_year",
        ],
    ),
    # YAML that is not a scenario
    (
        "extends-a-folder",
        {"s.yaml": "extends: sub\n", "sub/x.yaml": "name: x\n"},
        "s.yaml",
        None,
        ["s.yaml", "'extends'", "'sub'", "is a folder", "needs a scenario file"],
    ),
    (
        "a-folder-as-the-file",
        {"sub/x.yaml": "name: x\n"},
        "sub",
        None,
        ["sub", "is a folder"],
    ),
    (
        "nested-600-deep",
        {"s.yaml": "name: " + "[" * 600 + "]" * 600 + "\n"},
        "s.yaml",
        None,
        ["s.yaml", "line 1", "nested more than 64 levels"],
    ),
]


@pytest.mark.parametrize(
    ("files", "entry", "overrides", "pieces"), [pytest.param(*case[1:], id=case[0]) for case in BAD]
)
def test_bad_input_names_what_is_wrong(
    tmp_path: Path, files: dict, entry: str | None, overrides: dict | None, pieces: list[str]
) -> None:
    message = error_of(tmp_path, files, entry, overrides)
    missing = [p for p in pieces if p not in message]
    assert not missing, f"message lacks {missing}: {message}"
    assert "\n" not in message, f"not one paragraph: {message!r}"


def test_edge_values_of_the_cross_field_checks_are_allowed() -> None:
    scenario = load_scenario(
        None,
        {
            "demography.migration.labour_age_min": 30,
            "demography.migration.labour_age_max": 30,
            "initial.male_by_age": [0.0] * N_AGES,  # one sex may be absent
            "demography.mortality.mx_female": [449.0] + [0.01] * (N_AGES - 1),
            "demography.mortality.periods": [],
            "township.burn_in_years": 0,
        },
    )
    assert scenario.demography.migration.labour_age_min == 30


def test_an_alias_tree_is_reported_briefly(tmp_path: Path) -> None:
    """7 wide and 11 deep: about 2e9 leaves, but the message shows only the top."""
    lines = ["a0: &a0 [1, 2, 3, 4, 5, 6, 7]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 7)}]" for i in range(1, 12)]
    lines.append("township: {years: *a11}")
    message = error_of(tmp_path, {"s.yaml": "\n".join(lines) + "\n"}, "s.yaml", None)
    assert "'township.years' = [[" in message and "..." in message
    assert "unknown field 'a11'" in message
    assert len(message) < 5000


def test_deeply_nested_override_is_refused() -> None:
    with pytest.raises(ScenarioError, match="nested more than 64 levels"):
        parse_override("township.years=" + "[" * 600 + "]" * 600)


@pytest.mark.parametrize("seed", [2**63, 2**64 + 1, -1, True, 1.0])
def test_simulate_refuses_seeds_outside_the_range(seed: object) -> None:
    """Seeds are taken modulo 2**64 by the random streams: 2**64 + 1 would replay seed 1."""
    import popsim

    with pytest.raises(ScenarioError, match=r"seed = .*from 0 to 2\*\*63-1"):
        popsim.simulate(load_scenario(), seed=seed, n_agents=10, years=1)


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    message = error_of(
        tmp_path, {"s.yaml": "township:\n  n_persons: lots\n  years: -1\n"}, "s.yaml", None
    )
    assert "2 problems" in message
    assert "'township.n_persons' = 'lots'" in message
    assert "'township.years' = -1" in message


def test_unsafe_yaml_tag_does_not_run(tmp_path: Path) -> None:
    sentinel = tmp_path / "pwned"
    write(tmp_path, {"s.yaml": f'name: !!python/object/apply:os.system ["touch {sentinel}"]\n'})
    with pytest.raises(ScenarioError, match="not allowed"):
        load_scenario(tmp_path / "s.yaml")
    assert not sentinel.exists()


# --- provenance: the message blames the file (or override) that set the bad value ---------


def test_bad_value_in_parent_names_the_parent(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        {
            "parent.yaml": "demography:\n  marriage:\n    marry_out_share: 1.5\n",
            "child.yaml": "extends: parent.yaml\nname: child\n"
            "demography:\n  marriage:\n    min_age_female: 21\n",
        },
        "child.yaml",
        None,
    )
    assert "parent.yaml: field 'demography.marriage.marry_out_share' = 1.5" in message
    assert "child.yaml" not in message


def test_bad_value_in_grandparent_names_the_grandparent(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        {
            "base/grand.yaml": "township:\n  years: 0\n",
            "base/parent.yaml": "extends: grand.yaml\nname: parent\n",
            "child.yaml": "extends: base/parent.yaml\ntownship:\n  n_persons: 100\n",
        },
        "child.yaml",
        None,
    )
    assert "grand.yaml: field 'township.years' = 0" in message
    assert "parent.yaml" not in message.replace("grand.yaml", "")
    assert "child.yaml" not in message


def test_bad_value_set_by_child_names_the_child(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        {
            "parent.yaml": "demography:\n  srb: 1.05\n",
            "child.yaml": "extends: parent.yaml\ndemography:\n  srb: -1\n",
        },
        "child.yaml",
        None,
    )
    assert "child.yaml: field 'demography.srb' = -1" in message
    assert "parent.yaml" not in message


def test_child_can_repair_a_parent_value(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "parent.yaml": "demography:\n  srb: -1\n",
            "child.yaml": "extends: parent.yaml\ndemography:\n  srb: 1.07\n",
        },
    )
    assert load_scenario(tmp_path / "child.yaml").demography.srb == 1.07


def test_bad_override_on_a_good_file_names_overrides(tmp_path: Path) -> None:
    message = error_of(
        tmp_path, {"s.yaml": "demography:\n  srb: 1.05\n"}, "s.yaml", {"demography.srb": -2}
    )
    assert "overrides: field 'demography.srb' = -2" in message
    assert "s.yaml" not in message


# --- good input -----------------------------------------------------------------------------


def test_extends_merges_nested_sections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        tmp_path,
        {
            "parent.yaml": "name: parent\ndescription: the parent\n"
            "township:\n  n_persons: 1000\n  years: 5\n"
            "demography:\n  srb: 1.05\n"
            "  marriage:\n    min_age_female: 21\n    marry_out_share: 0.2\n",
            "sub/child.yaml": "extends: ../parent.yaml\nname: child\n"
            "demography:\n  marriage:\n    marry_out_share: 0.3\n",
        },
    )
    monkeypatch.chdir(tmp_path / "sub")  # extends resolves against the file, not the cwd
    s = load_scenario(Path("child.yaml"))
    defaults = Scenario()
    assert s.name == "child"
    assert s.description == "the parent"
    assert s.demography.marriage.marry_out_share == 0.3  # the child's one key
    assert s.demography.marriage.min_age_female == 21  # its sibling, from the parent
    assert s.demography.marriage.min_age_male == defaults.demography.marriage.min_age_male
    assert s.demography.srb == 1.05
    assert (s.township.n_persons, s.township.years) == (1000, 5)
    assert s.township.n_villages == defaults.township.n_villages
    assert s.demography.fertility == defaults.demography.fertility


def test_extends_chain_of_three(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.yaml": "township:\n  years: 7\n  n_villages: 3\n",
            "b.yaml": "extends: a.yaml\ntownship:\n  years: 8\n",
            "c.yaml": "extends: b.yaml\ntownship:\n  n_persons: 99\n",
        },
    )
    t = load_scenario(tmp_path / "c.yaml").township
    assert (t.years, t.n_villages, t.n_persons) == (8, 3, 99)


def test_overrides_win_over_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "parent.yaml": "demography:\n  srb: 1.04\n  marriage:\n    marry_out_share: 0.2\n",
            "child.yaml": "extends: parent.yaml\ndemography:\n  srb: 1.05\n",
        },
    )
    asfr = [0.01] * N_REPRO
    s = load_scenario(
        tmp_path / "child.yaml",
        {
            "demography.srb": 1.07,
            "demography.marriage.marry_out_share": 0.0,
            "demography.fertility.asfr": asfr,
        },
    )
    assert s.demography.srb == 1.07
    assert s.demography.marriage.marry_out_share == 0.0
    assert s.demography.fertility.asfr == tuple(asfr)
    assert s.demography.marriage.min_age_female == Scenario().demography.marriage.min_age_female


def test_none_gives_the_built_in_defaults() -> None:
    s = load_scenario(None)
    assert s == Scenario()
    assert s.digest() == Scenario().digest()
    assert load_scenario() == s
    assert load_scenario(None, {}) == s
    assert len(s.demography.mortality.mx_male) == N_AGES
    assert len(s.demography.fertility.asfr) == N_REPRO


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    write(tmp_path, {"empty.yaml": "# nothing set\n"})
    assert load_scenario(tmp_path / "empty.yaml") == Scenario()


def test_params_folder_is_not_empty() -> None:
    names = {p.name for p in PARAM_FILES}
    assert {"baseline.yaml", "analytic.yaml"} <= names


@pytest.mark.parametrize("path", PARAM_FILES, ids=lambda p: str(p.relative_to(REPO / "params")))
def test_every_params_file_loads(path: Path) -> None:
    s = load_scenario(path)
    assert s.name
    assert Scenario.model_validate(s.model_dump()) == s, "the loaded scenario round-trips"


def test_analytic_inherits_from_core() -> None:
    baseline = load_scenario(REPO / "params" / "baseline.yaml")
    analytic = load_scenario(REPO / "params" / "analytic.yaml")
    assert analytic.demography.fertility.mode == "asfr"
    assert analytic.demography.srb == baseline.demography.srb
    assert analytic.township.start_year == baseline.township.start_year


def test_scenario_is_frozen() -> None:
    s = load_scenario(None)
    with pytest.raises(ValidationError):
        s.name = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        s.township.n_persons = 5  # type: ignore[misc]
    with pytest.raises(ValidationError):
        s.demography.marriage.marry_out_share = 0.5  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.demography.fertility.asfr[0] = 1.0  # type: ignore[index]
    assert s == Scenario()


def test_digest_tracks_values_and_only_values() -> None:
    base = load_scenario(None)
    assert len(base.digest()) == 64
    assert int(base.digest(), 16) >= 0
    assert load_scenario(None).digest() == base.digest()
    # setting a value to what it already is changes nothing
    assert load_scenario(None, {"demography.srb": base.demography.srb}).digest() == base.digest()
    changed = {
        load_scenario(None, {"demography.srb": 1.07}).digest(),
        load_scenario(None, {"township.years": base.township.years + 1}).digest(),
        load_scenario(None, {"policy.fee.multiple": 5.0}).digest(),
    }
    assert base.digest() not in changed
    assert len(changed) == 3
    # the name and description label a scenario; they are not model inputs
    assert load_scenario(None, {"name": "other"}).digest() == base.digest()
    assert base.model_copy(update={"description": "x"}).digest() == base.digest()


def test_digest_ignores_how_a_value_was_written(tmp_path: Path) -> None:
    write(
        tmp_path, {"a.yaml": "demography:\n  srb: 1.07\n", "b.yaml": "demography: {srb: 1.070}\n"}
    )
    a = load_scenario(tmp_path / "a.yaml").digest()
    assert a == load_scenario(tmp_path / "b.yaml").digest()
    assert a == load_scenario(None, {"demography.srb": 1.07}).digest()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("demography.srb=1.07", ("demography.srb", 1.07)),
        (" township.years = 5", ("township.years", 5)),
        ("demography.marriage.enabled=false", ("demography.marriage.enabled", False)),
        ("demography.fertility.mode=asfr", ("demography.fertility.mode", "asfr")),
        (
            "demography.fertility.parity_progression=[0.9, 0.5]",
            ("demography.fertility.parity_progression", [0.9, 0.5]),
        ),
        ("description=", ("description", "")),
        ("description=a: b", ("description", {"a": "b"})),  # read as YAML
        ("description=[unclosed", ("description", "[unclosed")),  # not YAML: kept as text
    ],
)
def test_parse_override(text: str, expected: tuple) -> None:
    key, value = parse_override(text)
    assert (key, value) == expected
    assert type(value) is type(expected[1])


def test_parse_override_gives_a_float() -> None:
    key, value = parse_override("demography.srb=1.07")
    assert key == "demography.srb"
    assert isinstance(value, float) and value == 1.07


@pytest.mark.parametrize("text", ["demography.srb", "=1.07", "  =x"])
def test_parse_override_refuses_malformed(text: str) -> None:
    with pytest.raises(ScenarioError, match="overrides") as info:
        parse_override(text)
    assert repr(text) in str(info.value)
    assert "dotted.field=value" in str(info.value)


def test_json_schema_carries_unit_and_source() -> None:
    schema = Scenario.model_json_schema()
    json.dumps(schema)  # serialisable
    n_persons = schema["$defs"]["Township"]["properties"]["n_persons"]
    assert n_persons["unit"] == "persons"
    assert n_persons["source"].startswith("[S]")
    assert n_persons["minimum"] == 1
    srb = schema["$defs"]["Demography"]["properties"]["srb"]
    assert srb["unit"] == "males per female"
    assert schema["additionalProperties"] is False


def test_every_schema_leaf_has_unit_and_source() -> None:
    schema = Scenario.model_json_schema()
    sections = {"Scenario": schema, **schema["$defs"]}
    leaves = 0
    for section, body in sections.items():
        assert body.get("additionalProperties") is False, section
        for name, prop in body["properties"].items():
            if "$ref" in prop:
                continue  # a nested section, checked on its own
            leaves += 1
            assert prop.get("unit") and prop.get("source"), f"{section}.{name}"
    assert leaves > 30


def test_one_entry_of_a_table_is_set_alone(tmp_path: Path) -> None:
    """An override or a file may set entry N of a table (what a calibration fits); the other
    entries keep the file's or the schema's values."""
    default = Scenario().policy.sex_selection.prob_no_son
    write(
        tmp_path,
        {
            "parent.yaml": "policy:\n  sex_selection:\n    prob_no_son: [0.1, 0.2, 0.3, 0.4]\n",
            "child.yaml": "extends: parent.yaml\npolicy:\n  sex_selection:\n"
            "    prob_no_son: {1: 0.25}\n",
            "alone.yaml": "policy:\n  sex_selection:\n    prob_no_son: {3: 0.9}\n",
        },
    )
    child = load_scenario(tmp_path / "child.yaml", {"policy.sex_selection.prob_no_son.2": 0.7})
    assert child.policy.sex_selection.prob_no_son == (0.1, 0.25, 0.7, 0.4)
    alone = load_scenario(tmp_path / "alone.yaml").policy.sex_selection.prob_no_son
    assert alone == (*default[:3], 0.9), "no file sets the table: the schema's default"
    first = load_scenario(None, {"policy.sex_selection.prob_no_son.0": 0.5})
    assert first.policy.sex_selection.prob_no_son == (0.5, *default[1:])


def test_a_bad_entry_of_a_table_names_the_entry(tmp_path: Path) -> None:
    beyond = error_of(tmp_path, {}, None, {"policy.sex_selection.prob_no_son.7": 0.5})
    assert "overrides: field 'policy.sex_selection.prob_no_son.7'" in beyond
    assert "4 entries, numbered 0 to 3" in beyond
    above_one = error_of(tmp_path, {}, None, {"policy.sex_selection.prob_no_son.2": 1.5})
    assert "field 'policy.sex_selection.prob_no_son.2' = 1.5" in above_one
    assert "less than or equal to 1" in above_one
    not_a_table = error_of(tmp_path, {}, None, {"policy.sex_selection.crackdown.2": 0.5})
    assert "overrides: field 'policy.sex_selection.crackdown'" in not_a_table


def test_one_field_of_a_timeline_change_is_set_alone(tmp_path: Path) -> None:
    """``timeline.N.field`` changes that field of change N; its other fields, and the other
    changes, stay as the file gives them (how a profile varies an announcement's month)."""
    write(
        tmp_path,
        {
            "path.yaml": "timeline:\n"
            "  - {date: 2010-01, announced: 2009-06, source: s0,"
            " set: {policy.rules.regime: two_child}}\n"
            "  - {date: 2012-01, source: s1, set: {policy.fee.enabled: false}}\n",
        },
    )
    given = load_scenario(tmp_path / "path.yaml").timeline
    moved = load_scenario(tmp_path / "path.yaml", {"timeline.0.announced": "2009-03"}).timeline
    assert moved[0].announced == "2009-03" and given[0].announced == "2009-06"
    assert (moved[0].date, moved[0].set, moved[0].source) == (
        given[0].date,
        given[0].set,
        given[0].source,
    )
    assert moved[1] == given[1]
    late = error_of(tmp_path, {}, "path.yaml", {"timeline.0.announced": "2011-01"})
    assert "field 'timeline.0.announced' = '2011-01'" in late and "after its date" in late
    beyond = error_of(tmp_path, {}, "path.yaml", {"timeline.2.announced": "2011-01"})
    assert "field 'timeline.2'" in beyond and "2 entries, numbered 0 to 1" in beyond
