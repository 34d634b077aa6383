"""The history scenario against what happened, 2009-2022, and what each change contributes.

Usage (from the repository root; about 2 CPU-minutes per scenario at the defaults)::

    ./dev shell python scripts/validation.py --replicates 8 --write docs/validation_table.md

1. ``params/scenarios/history.yaml`` runs on ``--replicates`` seeds; its dated figures
   (births index on 2015, second-birth share, SRB, TFR) are set against
   ``params/calibration/history_targets.yaml`` (a table: target, range, model mean and its
   95 % interval, z) and drawn with the replicates' range (``docs/figures/validation_history.png``).
   A check that is not a target follows: the township's first marriages in 2021 and 2022 per
   100 of 2013's, against China's (:data:`FIRST_MARRIAGES`).
2. Each of the history's dated changes is removed in turn, on the same seeds: the paired
   difference in births by year between the history and the history without that change is
   what the change contributes (``docs/figures/validation_contributions.png``). The 1.5-child
   baseline in the history's world (its pandemic kept) on the same seeds gives the total
   difference the regime's changes make together.

The figures are drawn, into ``docs/figures/``, only with ``--write``: a trial run (say
``--replicates 16``) leaves the documented ones alone.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from popsim.outputs.statistics import BASE_YEARS

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "params" / "scenarios" / "history.yaml"
TARGETS = ROOT / "params" / "calibration" / "history_targets.yaml"
FIGURES = ROOT / "docs" / "figures"
YEARS = 14  # 2009-2022
LAST = "2022-12"  #: the last month run: later changes contribute nothing
TOTAL = "baseline (1.5 children throughout)"  # history minus it: the regime's changes together
#: the dated events marked on the figure
MARKS = ((2014, "selective"), (2016, "two-child"), (2020.08, "pandemic"), (2021.67, "three-child"))
#: China's first marriages, persons (NBS, China Statistical Yearbook 2023, as reported by
#: Yicai 2023-11-19): 23.8596 M in 2013, the peak, 11.58 M in 2021 and 10.5176 M in 2022
FIRST_MARRIAGES = {2013: 23.8596, 2021: 11.58, 2022: 10.5176}
#: changes of the township's world, not of the regime: the baseline keeps them
WORLD = ("policy.decision.", "demography.")


def run_history(job: tuple[str, dict, int, int]) -> pd.DataFrame:
    """One run's births by year and order and sex, with the dated figures' inputs."""
    import popsim

    label, overrides, seed, agents = job
    scenario = popsim.load_scenario(HISTORY, overrides)
    result = popsim.simulate(scenario, seed=seed, n_agents=agents, years=YEARS)
    births = result.events[result.events["event"] == "birth"]
    births = births.astype({"sex": np.int64, "order": np.int64})  # int8 sums overflow
    by_year = births.groupby("year").agg(
        births=("sex", "size"),
        male=("sex", "sum"),
        second=("order", lambda o: int((o == 2).sum())),
        third_plus=("order", lambda o: int((o >= 3).sum())),
    )
    by_year["tfr"] = result.annual.set_index("year")["tfr"]
    marriages = result.events[result.events["event"] == "marriage"].groupby("year").size()
    by_year["marriages"] = marriages.reindex(by_year.index, fill_value=0)
    return by_year.reset_index().assign(label=label, seed=seed)


def scenarios() -> dict[str, dict]:
    """The history, the history without each of its changes, and the baseline.

    The baseline is the 1.5-child rule throughout in the history's world: its dated changes of
    behaviour (the pandemic's) are kept.
    """
    import yaml

    timeline = yaml.safe_load(HISTORY.read_text())["timeline"]
    world = [e for e in timeline if all(k.startswith(WORLD) for k in e["set"])]
    out = {"history": {}, TOTAL: {"timeline": world}}
    for i, entry in enumerate(timeline):
        if entry["date"] > LAST:
            continue
        for field in entry["set"]:
            rest = [
                {**e, "set": {k: v for k, v in e["set"].items() if (j, k) != (i, field)}}
                for j, e in enumerate(timeline)
            ]
            rest = [e for e in rest if e["set"]]
            out[f"{entry['date']} {field.removeprefix('policy.')}"] = {"timeline": rest}
    return out


def births_index(history: pd.DataFrame) -> pd.Series:
    """Births per 100 of the run's mean year over the base years, by seed and year."""
    base = history["births"].unstack("year")[list(BASE_YEARS)].mean(axis=1)
    return 100 * history["births"] / base.reindex(history.index, level="seed")


def mean_interval(values: pd.Series) -> dict[str, float]:
    """The replicates' mean and the 95 % interval of that mean (Student's t)."""
    from popsim.analysis.intervals import t975

    n, mean = len(values), values.mean()
    half = t975(n - 1) * values.std(ddof=1) / np.sqrt(n)
    return {"model_mean": mean, "ci95_low": mean - half, "ci95_high": mean + half}


def dated_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Each history target against the history's replicates."""
    from popsim.calibration.targets import load_targets

    history = runs[runs["label"] == "history"].set_index(["seed", "year"])
    per_seed = {
        "births_index": births_index(history),
        "share_order_2": history["second"] / history["births"],
        "share_order_3plus": history["third_plus"] / history["births"],
        "srb": 100 * history["male"] / (history["births"] - history["male"]),
        "tfr_true": history["tfr"],
    }
    rows = []
    for target in load_targets(TARGETS):
        figure, year = target.name.split("@")
        values = per_seed[figure].xs(int(year), level="year")
        mean = values.mean()
        rows.append(
            {
                "target": target.name,
                "range": f"{target.low:g}-{target.high:g}",
                **mean_interval(values),
                "z": (mean - target.centre) / target.sd,
                "within": bool(target.low <= mean <= target.high),
                "source": target.source,
            }
        )
    return pd.DataFrame(rows)


def marriages_check(runs: pd.DataFrame) -> pd.DataFrame:
    """First marriages per 100 of 2013's, the history's against China's (not a target)."""
    history = runs[runs["label"] == "history"].pivot(
        index="seed", columns="year", values="marriages"
    )
    rows = []
    for year in sorted(FIRST_MARRIAGES)[1:]:
        china = 100 * FIRST_MARRIAGES[year] / FIRST_MARRIAGES[2013]
        values = 100 * history[year] / history[2013]
        rows.append({"year": year, "China": china, **mean_interval(values)})
    return pd.DataFrame(rows)


def contributions(runs: pd.DataFrame) -> pd.DataFrame:
    """Births by year: history minus each variant, mean over the paired seeds."""
    births = runs.pivot_table(index=["seed", "year"], columns="label", values="births")
    diff = births.sub(births["history"], axis=0).mul(-1).drop(columns="history")
    return diff.groupby(level="year").mean()


def figures(runs: pd.DataFrame, effects: pd.DataFrame) -> None:
    """The validation figure and the contributions figure, into docs/figures/."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from popsim.calibration.targets import load_targets

    targets = {t.name: t for t in load_targets(TARGETS)}
    history = runs[runs["label"] == "history"].set_index(["seed", "year"])
    series = {
        "births_index": births_index(history),
        "share_order_2": history["second"] / history["births"],
        "srb": 100 * history["male"] / (history["births"] - history["male"]),
    }
    titles = {
        "births_index": f"Births, index {BASE_YEARS[0]}-{BASE_YEARS[-1]} = 100",
        "share_order_2": "Second births, share of all",
        "srb": "Sex ratio at birth (boys per 100 girls)",
    }
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, (name, values) in zip(axes, series.items(), strict=True):
        g = values.groupby(level="year")
        ax.fill_between(g.min().index, g.min(), g.max(), alpha=0.25, label="replicates' range")
        ax.plot(g.mean().index, g.mean(), marker="o", label="model mean")
        dated = [(int(n.split("@")[1]), t) for n, t in targets.items() if n.startswith(name + "@")]
        for k, (year, t) in enumerate(dated):
            label = "target (range)" if k == 0 else None
            ax.errorbar(year, t.centre, yerr=(t.high - t.low) / 2, fmt="s", color="black",
                        capsize=3, label=label)  # fmt: skip
        for year, what in MARKS:
            ax.axvline(year, color="grey", lw=0.8, ls=":")
            ax.text(year, ax.get_ylim()[1], what, fontsize=7, rotation=90, va="top", ha="right")
        ax.set_title(titles[name])
        ax.set_xlabel("year")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(FIGURES / "validation_history.png", dpi=110)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    colours = plt.get_cmap("tab20").colors
    for k, name in enumerate(c for c in effects.columns if c != TOTAL):
        ax.plot(effects.index, effects[name], marker=".", color=colours[k], label=name)
    together = "the regime's changes together"
    ax.plot(effects.index, effects[TOTAL], color="black", lw=2.5, label=together)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_title("What each change contributes: history minus history without it (births a year)")
    ax.set_xlabel("year")
    ax.set_ylabel("births a year")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(FIGURES / "validation_contributions.png", dpi=110)


def markdown(frame: pd.DataFrame, digits: int = 3) -> str:
    """A frame as a markdown table."""

    def cell(v) -> str:
        if isinstance(v, bool | np.bool_):
            return "yes" if v else "**no**"
        if isinstance(v, float | np.floating):
            return f"{v:.{digits}g}"
        return str(v)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * frame.shape[1]]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the validation; print its tables (with --write, write them and the figures)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=8, help="seeds (default: 8)")
    parser.add_argument("--agents", type=int, default=38_000, help="persons (default: 38000)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default: 2)")
    parser.add_argument("--write", help="write the tables as markdown to this file")
    args = parser.parse_args(argv)
    jobs = [
        (label, overrides, seed, args.agents)
        for label, overrides in scenarios().items()
        for seed in range(args.replicates)
    ]
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        runs = pd.concat(pool.map(run_history, jobs), ignore_index=True)
    table = dated_table(runs)
    effects = contributions(runs)
    met = int(table["within"].sum())
    text = "\n".join(
        [
            f"History scenario, {args.replicates} replicates of {args.agents:,} persons: "
            f"{met} of {len(table)} dated targets met (`scripts/validation.py`).",
            "",
            markdown(table),
            "",
            "A check, not a target: first marriages per 100 of 2013's (the township's marriages "
            "of its persons, China's persons marrying for the first time; NBS yearbook 2023):",
            "",
            markdown(marriages_check(runs)),
            "",
            "What each change contributes, births a year (history minus the history without "
            "it, mean over the paired seeds):",
            "",
            markdown(effects.round(1).reset_index(), digits=4),
            "",
        ]
    )
    print(text)
    if args.write:  # the documented run: the tables and both figures beside them
        Path(args.write).write_text(text, encoding="utf-8")
        FIGURES.mkdir(parents=True, exist_ok=True)
        figures(runs, effects)
    return 0


if __name__ == "__main__":
    sys.exit(main())
