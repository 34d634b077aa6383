"""popsim: agent-based simulation of a township's population under family-planning policy.

The public API::

    scenario = popsim.load_scenario("params/baseline.yaml", {"demography.srb": 1.07})
    result = popsim.simulate(scenario, seed=1, n_agents=10_000, years=10)
    result.annual  # one row per year: population, births, deaths, CBR, TFR, SRB, ...
"""

from popsim.outputs.results import Result
from popsim.outputs.runner import simulate
from popsim.scenario.demography import Scenario
from popsim.scenario.loading import ScenarioError, load_scenario
from popsim.version import __version__, code_version

__all__ = [
    "Result",
    "Scenario",
    "ScenarioError",
    "__version__",
    "code_version",
    "load_scenario",
    "simulate",
]
