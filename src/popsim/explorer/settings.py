"""What the explorer's controls say, as a scenario: load it, run it, save it as a YAML file.

A :class:`Settings` is the starting scenario file plus the levers' values, the run's size
and its seed. The scenario it describes is always built by
:func:`popsim.scenario.loading.load_scenario` from the starting file and dotted overrides,
and the file it saves ``extends`` the starting file with the same overrides, so the saved
file gives the very scenario the explorer ran (``popsim run FILE --seed SEED`` repeats the
run exactly).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from popsim.explorer.levers import LEVERS, RULE
from popsim.scenario.demography import Scenario
from popsim.scenario.loading import ScenarioError, load_scenario

#: the first line of every file the explorer saves: only such files may be replaced
HEADER = "# Saved by popsim explore."
RULE_SOURCE = "[U] set in popsim explore"


def value_at(scenario: Scenario, path: str) -> Any:
    """The value of a dotted field of ``scenario``."""
    node: Any = scenario
    for part in path.split("."):
        node = getattr(node, part)
    return node


@dataclass(frozen=True)
class Settings:
    """The explorer's state: a starting scenario, the levers' values, size and seed.

    Attributes:
        start: the starting scenario file, or None for the built-in defaults.
        base: the starting scenario as loaded.
        values: every lever's value (:data:`popsim.explorer.levers.LEVERS`), by dotted path.
        rule_from: the calendar year from which the birth rule (``policy.rules.regime``)
            holds; after the start year it is a dated change in the timeline.
        seed: the run's seed.
        n_persons: initial persons.
        years: simulated years.
    """

    start: Path | None
    base: Scenario
    values: Mapping[str, Any] = field(default_factory=dict)
    rule_from: int = 0
    seed: int = 0
    n_persons: int = 0
    years: int = 0

    @classmethod
    def of(
        cls,
        start: str | Path | None = None,
        *,
        seed: int = 0,
        n_persons: int | None = None,
        years: int | None = None,
    ) -> Settings:
        """The settings of a scenario file (None: the built-in defaults) as it is."""
        path = Path(start).resolve() if start is not None else None
        base = load_scenario(path)
        t = base.township
        return cls(
            start=path,
            base=base,
            values={lv.path: value_at(base, lv.path) for lv in LEVERS},
            rule_from=t.start_year,
            seed=seed,
            n_persons=t.n_persons if n_persons is None else n_persons,
            years=t.years if years is None else years,
        )

    def with_value(self, path: str, value: Any) -> Settings:
        """These settings with one lever changed."""
        return replace(self, values={**self.values, path: value})

    @property
    def first_year(self) -> int:
        """The first simulated calendar year."""
        return self.base.township.start_year

    @property
    def last_year(self) -> int:
        """The last simulated calendar year."""
        return self.first_year + self.years - 1

    def differences(self, other: Settings) -> list[str]:
        """What differs from ``other``: lever paths, and ``seed``, ``n_persons`` ...."""
        fields = ("start", "rule_from", "seed", "n_persons", "years")
        out = [f for f in fields if getattr(self, f) != getattr(other, f)]
        paths = dict.fromkeys([*self.values, *other.values])
        return out + [p for p in paths if self.values.get(p) != other.values.get(p)]

    def changed(self) -> dict[str, Any]:
        """The levers set to another value than the starting scenario's, by dotted path."""
        return {p: v for p, v in self.values.items() if v != value_at(self.base, p)}

    def _dated_rule(self) -> bool:
        return RULE in self.changed() and self.rule_from > self.first_year

    def _timeline(self) -> list[dict]:
        """The starting timeline with the birth rule's change put in at its month."""
        entries = {c.date: c.model_dump(mode="json") for c in self.base.timeline}
        date = f"{self.rule_from}-01"
        entry = entries.setdefault(date, {"date": date, "set": {}, "source": RULE_SOURCE})
        entry["set"] = {**entry["set"], RULE: self.values[RULE]}
        return [entries[d] for d in sorted(entries)]

    def overrides(self) -> dict[str, Any]:
        """The dotted overrides that turn the starting scenario into this one."""
        out: dict[str, Any] = {
            "township.n_persons": self.n_persons,
            "township.years": self.years,
        }
        out |= {p: v for p, v in self.changed().items() if not (p == RULE and self._dated_rule())}
        if self._dated_rule():
            out["timeline"] = self._timeline()
        return out

    def scenario(self) -> Scenario:
        """The scenario these settings describe, validated like any scenario file."""
        return load_scenario(self.start, self.overrides())

    def describe(self) -> str:
        """The changes from the starting scenario in words (for a saved file's description)."""
        parts = []
        for path, value in self.changed().items():
            when = f" from {self.rule_from}" if path == RULE and self._dated_rule() else ""
            parts.append(f"{path} {value_at(self.base, path)} -> {value}{when}")
        changes = "; ".join(parts) or "no lever changed"
        return f"Explored from {self.base.name}: {changes}."

    def yaml_text(self, path: Path, name: str) -> str:
        """The scenario file these settings save as at ``path``."""
        data: dict[str, Any] = {}
        if self.start is not None:
            data["extends"] = os.path.relpath(self.start, path.resolve().parent)
        data |= {"name": name, "description": self.describe()}
        for dotted, value in self.overrides().items():
            node = data
            *sections, leaf = dotted.split(".")
            for part in sections:
                node = node.setdefault(part, {})
            node[leaf] = value
        start = self.start if self.start is not None else "the built-in defaults"
        head = (
            f"{HEADER} Starting scenario: {start}.\n"
            f"# The explored run: popsim run {path.name} --seed {self.seed}\n"
        )
        return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)

    def save(self, path: str | Path, name: str | None = None) -> Path:
        """Write the settings as a scenario file and check that it loads as this scenario.

        Refuses to replace a file that the explorer did not write.
        """
        path = Path(path)
        if path.suffix not in (".yaml", ".yml"):
            raise ScenarioError(f"{path}: a scenario file needs the suffix .yaml")
        if path.exists() and not path.read_text(encoding="utf-8").startswith(HEADER):
            raise ScenarioError(f"{path}: exists and was not saved by the explorer; not replaced")
        name = name or f"{self.base.name}_explored"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.yaml_text(path, name), encoding="utf-8")
        if load_scenario(path).digest() != self.scenario().digest():
            raise ScenarioError(f"{path}: the saved file does not reproduce the settings")
        return path
