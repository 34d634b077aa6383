"""Parity progression: fixed progression ratios give a known completed parity distribution.

With no mortality or migration, a high fecundability and no pregnancy loss,
every married woman who wants another child has it well before 45, so among
ever-married women aged 45-49 P(parity = n) = a_0 ... a_{n-1} (1 - a_n), with
a_k the progression ratio at parity k (docs/regime.md §21). Both the
simulated run and the simulated histories of the initial population must
reproduce it.
"""

import numpy as np
import pandas as pd
import pytest

import popsim
from conftest import PARAMS
from popsim.model.township import PopsimModel
from popsim.state.population import FEMALE, MARRIED

PROGRESSION = (0.9, 0.6, 0.3, 0.0)
Z = 4.0


def expected_distribution(progression):
    out, reach = [], 1.0
    for a in progression:
        out.append(reach * (1 - a))
        reach *= a
    return np.array(out)


@pytest.fixture(scope="module")
def fertile_closed_township():
    zeros = [0.0] * 101
    return popsim.load_scenario(
        PARAMS / "core.yaml",
        {
            "demography.mortality.mx_male": zeros,
            "demography.mortality.mx_female": zeros,
            "demography.mortality.periods": [],
            "demography.migration.enabled": False,
            "demography.marriage.marry_out_share": 0.0,
            "demography.fertility.fecundability": [0.5] * 35,
            "demography.fertility.postpartum_months": 0,
            "demography.fertility.miscarriage_prob": 0.0,
            "demography.fertility.unintended_abortion": 0.0,
            "demography.fertility.parity_progression": list(PROGRESSION),
        },
    )


def parity_of_married_women_45_49(model):
    p, age = model.world.persons, model.world.age_years
    women = p.alive & (p.sex == FEMALE) & (p.marital == MARRIED) & (age >= 45) & (age < 50)
    return np.bincount(p.parity[women], minlength=len(PROGRESSION))


def check(counts, where):
    n = counts.sum()
    expected = expected_distribution(PROGRESSION)
    assert n > 800, f"{where}: too few women ({n}) for the test's power"
    observed = counts[: len(expected)] / n
    se = np.sqrt(expected * (1 - expected) / n)
    assert counts[len(expected) :].sum() == 0, f"{where}: a progression ratio of 0 stops at 3"
    assert np.all(np.abs(observed - expected) < Z * se + 1e-12), (
        f"{where}: parity distribution {np.round(observed, 3)} vs {np.round(expected, 3)} "
        f"implied by the progression ratios {PROGRESSION} (s.e. {np.round(se, 3)})"
    )


def test_initial_histories_follow_the_progression_ratios(fertile_closed_township):
    scenario = popsim.outputs.runner.resize(fertile_closed_township, 60_000, 1)
    model = PopsimModel(scenario, seed=8)
    check(parity_of_married_women_45_49(model), "initial population")


def test_simulated_lives_follow_the_progression_ratios(fertile_closed_township):
    scenario = popsim.outputs.runner.resize(fertile_closed_township, 40_000, 36)
    model = PopsimModel(scenario, seed=9).run()
    p, age = model.world.persons, model.world.age_years
    assert (p.birth_month[p.alive & (age >= 45) & (age < 50)] < 0).all(), (
        "test set-up: women 45-49 at the end were children at the start"
    )
    check(parity_of_married_women_45_49(model), "simulated run")


# ---- third births by the sexes of the first two ----------------------------------------------


def test_the_third_birth_figure_is_the_rate_ratio_as_a_share():
    """Mothers of two daughters with 3 third births in 100 woman-months, of two sons with 1 in
    200: the rate ratio r is 6, so the figure is 6 / 7, whatever the groups' sizes."""
    from popsim.outputs.statistics import _third_births_daughters_share

    births = pd.DataFrame({"order": [3, 3, 3, 3, 2, 4], "sons_before": [0, 0, 0, 2, 0, 0]})
    monthly = pd.DataFrame(
        {
            "month": [0, 1, 40],
            "mothers_two_daughters": [60, 40, 999],
            "mothers_two_sons": [120, 80, 1],
        }
    )
    assert _third_births_daughters_share(births, monthly) == pytest.approx(6 / 7)
    none_to_sons = births[births["sons_before"] == 0]
    assert _third_births_daughters_share(none_to_sons, monthly) == 1.0, "finite without a ratio"


def test_the_mothers_of_two_are_counted_as_the_person_table_says():
    """The monthly counts of women under 50 with two daughters or two sons, against a count
    written from the person table at the run's end."""
    scenario = popsim.load_scenario(PARAMS / "baseline.yaml")
    model = PopsimModel(popsim.outputs.runner.resize(scenario, 4000, 1), seed=4).run()
    p = model.world.persons
    # ages in the last recorded month, when it counted (the world's clock is one month on)
    age = (model.world.t - 1 - p.birth_month) // 12
    frame = pd.DataFrame(
        {"alive": p.alive, "female": p.sex == FEMALE, "parity": p.parity, "sons": p.sons}
    )[age < 50]
    two = frame[frame["alive"] & frame["female"] & (frame["parity"] == 2)]
    last = model.datacollector.get_model_vars_dataframe().iloc[-1]
    assert last["mothers_two_daughters"] == (two["sons"] == 0).sum() > 50
    assert last["mothers_two_sons"] == (two["sons"] == 2).sum() > 50
