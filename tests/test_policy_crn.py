"""Common random numbers across the policy layer.

(a) With every mechanism switched off, the regime's code still runs (cadres are hired,
wealth is drawn, births are classified and registered) but it must not touch a single draw
of the demographic core: the run reproduces params/core.yaml exactly. This holds because
every policy process draws from its own keyed stream, and with contraception off the
conception step restricts eligibility to couples who want a child, exactly the core's
"perfect contraception" (``fertility.step_conception``); without the decision module parity
progression decides.

(b) Two runs that differ in one lever share every other stream, so their paired difference
varies far less across seeds than the difference between runs with unrelated seeds.
"""

import numpy as np
import pandas as pd
import pytest

import popsim
from conftest import PARAMS

ALL_OFF = {
    "policy.enabled": True,
    "policy.rules.regime": "none",
    "policy.decision.enabled": False,
    "policy.contraception.enabled": False,
    "policy.checkups.enabled": False,
    "policy.sex_selection.enabled": False,
    "policy.incentives.enabled": False,
    "policy.fee.enabled": False,
}
POLICY_COLUMNS = ["out_of_plan", "reported"]  # the core leaves them at -1


@pytest.mark.parametrize("seed", [3, 11])
def test_every_lever_off_reproduces_the_core(seed):
    n, years = 4000, 6
    core = popsim.simulate(PARAMS / "core.yaml", seed=seed, n_agents=n, years=years)
    off = popsim.simulate(
        popsim.load_scenario(PARAMS / "core.yaml", ALL_OFF), seed=seed, n_agents=n, years=years
    )
    for name in ("annual", "monthly"):
        pd.testing.assert_frame_equal(
            getattr(off, name), getattr(core, name), check_exact=True, obj=name
        )
    pd.testing.assert_frame_equal(
        off.events.drop(columns=POLICY_COLUMNS),
        core.events.drop(columns=POLICY_COLUMNS),
        check_exact=True,
        obj="events",
    )
    assert (core.events["out_of_plan"] == -1).all()
    b = off.events[off.events["event"] == "birth"]
    assert len(b) > 0 and (b["out_of_plan"] == 0).all(), "regime 'none': every birth in plan"
    assert not (off.events["event"] == "abortion").any(), "no remedial or selective abortions"
    assert not off.kpis.empty and core.kpis.empty, "only the policy run has a KPI table"


def total_births(overrides, seed):
    scenario = popsim.load_scenario(PARAMS / "baseline.yaml", overrides)
    events = popsim.simulate(scenario, seed=seed, n_agents=2500, years=6).events
    return int((events["event"] == "birth").sum())


def test_one_lever_change_is_paired_by_common_random_numbers():
    """var(paired difference) << var(difference of runs with unrelated seeds)."""
    r = 8
    low = {"policy.checkups.participation": 0.85, "township.burn_in_years": 4}
    high = {"policy.checkups.participation": 0.9, "township.burn_in_years": 4}
    a = np.array([total_births(high, i) for i in range(r)])
    b = np.array([total_births(low, i) for i in range(r)])
    b_other = np.array([total_births(low, i + r) for i in range(r)])
    paired, unpaired = a - b, a - b_other
    var_paired, var_unpaired = paired.var(ddof=1), unpaired.var(ddof=1)
    print(f"births: paired diff {paired}, var {var_paired:.1f}; unpaired var {var_unpaired:.1f}")
    assert var_paired < var_unpaired / 3, (
        f"common random numbers: a one-lever change should leave every other stream's draws "
        f"alone, so paired differences vary far less (var {var_paired:.1f}) than unpaired "
        f"ones (var {var_unpaired:.1f})"
    )
