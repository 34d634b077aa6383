"""popsim: agent-based simulation of a township's population under family-planning policy.

The public API::

    scenario = popsim.load_scenario("params/baseline.yaml", {"demography.srb": 1.07})
    result = popsim.simulate(scenario, seed=1, n_agents=10_000, years=10)
    result.annual  # one row per year: population, births, deaths, CBR, TFR, SRB, ...

    popsim.explore("params/baseline.yaml")  # in JupyterLab: the interactive explorer
"""

from popsim.outputs.results import Result
from popsim.outputs.runner import simulate
from popsim.scenario.demography import Scenario
from popsim.scenario.loading import ScenarioError, load_scenario
from popsim.version import __version__, code_version


def explore(
    scenario: str | None = None,
    *,
    seed: int = 0,
    n_agents: int | None = None,
    years: int | None = None,
):
    """The interactive explorer of a scenario file, for the last line of a notebook cell.

    Needs the viz extra (``pip install -e '.[viz]'``); ``popsim explore`` serves the same
    page in the browser. ``n_agents`` defaults to 5,000 persons, a quick start.
    """
    from popsim.explorer.page import Explorer

    return Explorer(scenario, seed=seed, n_persons=n_agents, years=years)


__all__ = [
    "Result",
    "Scenario",
    "ScenarioError",
    "__version__",
    "code_version",
    "explore",
    "load_scenario",
    "simulate",
]
