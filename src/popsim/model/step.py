"""What a step of the month is: when it runs, which scenarios have it, what it touches.

The month's table of steps is :data:`popsim.model.steps.STEPS`; this module holds the
building blocks and :func:`markdown`, which writes a table of steps for the docs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from popsim.scenario.demography import Scenario

if TYPE_CHECKING:
    from popsim.model.township import PopsimModel


@dataclass(frozen=True)
class When:
    """When a present step runs: a rule on the model's clock."""

    text: str
    due: Callable[[PopsimModel], bool]


EVERY_MONTH = When("every month", lambda m: True)
RECORDED = When("recorded months", lambda m: m.recording)
DECEMBER = When("December", lambda m: m.world.t % 12 == 11)
RECORDED_DECEMBER = When("December, recorded", lambda m: m.recording and m.world.t % 12 == 11)
CHECKUP_MONTHS = When(
    "every `interval_months`",
    lambda m: m.world.t % m.params.policy.checkups.interval_months == 0,
)


@dataclass(frozen=True)
class Present:
    """Which scenarios have a step: a rule on the scenario."""

    text: str
    test: Callable[[Scenario], bool]


ALWAYS = Present("always", lambda s: True)
REGIME = Present("regime", lambda s: s.policy.enabled)
CONCEPTIONS = Present("fertility.mode conception", lambda s: s.demography.fertility.mode != "asfr")


def lever(section: str) -> Present:
    """Scenarios with the regime and its ``policy.<section>`` switched on."""
    return Present(
        f"policy.{section}", lambda s: s.policy.enabled and getattr(s.policy, section).enabled
    )


def demography(section: str) -> Present:
    """Scenarios with ``demography.<section>`` switched on."""
    return Present(f"demography.{section}", lambda s: getattr(s.demography, section).enabled)


@dataclass(frozen=True)
class Step:
    """One step of the month: what runs, what it reads and writes, when."""

    name: str
    run: Callable[[Any], None]  #: called with what ``on`` names
    on: str  #: "world", "model", "regime" or "persons"
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    doc: str
    present: Present = ALWAYS
    when: When = EVERY_MONTH
    timer: str = ""  #: the CPU-time bucket (``world.timings``); default: the name

    def bind(self, model: PopsimModel) -> Callable[[], None]:
        """The step's call for one run: ``run`` applied to its world, model or regime."""
        target = {
            "world": model.world,
            "model": model,
            "regime": model.regime,
            "persons": model.world.persons,
        }[self.on]
        return partial(self.run, target)

    @property
    def runs(self) -> str:
        """What the step calls, as the docs show it: ``module.function(world)``."""
        module = self.run.__module__.rsplit(".", 1)[-1]
        return f"{module}.{self.run.__qualname__}({self.on})"

    @property
    def bucket(self) -> str:
        """Name under which the step's CPU time is summed."""
        return self.timer or self.name


def markdown(steps: tuple[Step, ...]) -> str:
    """The step table as a Markdown table (for docs/model.md)."""
    lines = [
        "| # | step | runs | when | present | reads | writes | what |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, s in enumerate(steps, 1):
        lines.append(
            f"| {i} | `{s.name}` | `{s.runs}` | {s.when.text} | {s.present.text} | "
            f"{', '.join(s.reads)} | "
            f"{', '.join(s.writes)} | {s.doc} |"
        )
    return "\n".join(lines)
