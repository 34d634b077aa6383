"""Whether enforcement ended at once in 2016 or wound down: the history against a variant.

``params/scenarios/history.yaml`` ends the LARC campaign, remedial measures and IUD
re-insertion in January 2016, with the universal two-child rule. The legal texts do not say
how fast practice changed ([U] in the file). This runs the history and a variant in which
these levers keep ``--fraction`` of their baseline values from 2016-01 and end in ``--end``
(paired seeds), and prints both against the dated targets and the variant's births minus the
history's by year. ``--write FILE`` also writes the variant as a scenario file extending
history.yaml, so that ``popsim calibrate`` can refit the history's dynamics under it.

    ./dev shell python scripts/enforcement_profile.py --fraction 0.5 --end 2018-01
"""

from __future__ import annotations

import argparse
import copy
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pandas as pd
import yaml
from validation import HISTORY, ROOT, dated_table, run_history

import popsim
from popsim.explorer.settings import value_at

CHANGE = 1  #: the history's timeline entry of 2016-01
#: the enforcement levers the history ends in 2016, and their value once ended
ENDED = {
    "policy.contraception.larc": False,
    "policy.checkups.remedial": 0.0,
    "policy.checkups.reinsertion": 0.0,
}
#: the levers a wind-down scales from the baseline's values
SCALED = (
    "policy.contraception.larc_rate",
    "policy.contraception.sterilisation_rate",
    "policy.checkups.remedial",
    "policy.checkups.reinsertion",
)


def wind_down(timeline: list[dict], fraction: float, end: str) -> list[dict]:
    """The timeline with enforcement at ``fraction`` of the baseline's from 2016 to ``end``."""
    baseline = popsim.load_scenario(ROOT / "params" / "baseline.yaml")
    out = copy.deepcopy(timeline)
    change = out[CHANGE]
    if not all(change["set"].get(k) == v for k, v in ENDED.items()):
        raise SystemExit(f"{HISTORY}: entry {CHANGE} no longer ends enforcement as expected")
    change["set"] = {k: v for k, v in change["set"].items() if k not in ENDED}
    change["set"].update({k: fraction * value_at(baseline, k) for k in SCALED})
    ended = {"date": end, "set": dict(ENDED), "source": "[U] enforcement ends (a variant)"}
    later = [i for i, e in enumerate(out) if e["date"] > end]
    out.insert(later[0] if later else len(out), ended)
    return out


def main() -> None:
    """Print the history and the variant against the dated targets."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fraction", type=float, default=0.5, help="enforcement kept, 0-1")
    parser.add_argument("--end", default="2018-01", help="the month enforcement ends, YYYY-MM")
    parser.add_argument("--replicates", type=int, default=8)
    parser.add_argument("--agents", type=int, default=38_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write", type=Path, help="also write the variant scenario here")
    args = parser.parse_args()

    timeline = wind_down(yaml.safe_load(HISTORY.read_text())["timeline"], args.fraction, args.end)
    if args.write:
        extends = os.path.relpath(HISTORY, args.write.resolve().parent)
        name = f"history_enforcement_{args.fraction:g}_to_{args.end}"
        doc = {"extends": extends, "name": name, "timeline": timeline}
        args.write.write_text(yaml.safe_dump(doc, sort_keys=False))
        print(f"wrote {args.write}")
    jobs = [
        (label, overrides, seed, args.agents)
        for label, overrides in (("history", {}), ("variant", {"timeline": timeline}))
        for seed in range(args.replicates)
    ]
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        runs = pd.concat(pool.map(run_history, jobs))
    history = dated_table(runs)
    variant = dated_table(runs.assign(label=runs["label"].map({"variant": "history"})))
    table = history[["target", "range", "model_mean", "within"]].merge(
        variant[["target", "model_mean", "within"]], on="target", suffixes=("", "_variant")
    )
    print(
        f"{args.replicates} seeds x {args.agents:,} persons; variant: enforcement at "
        f"{args.fraction:g} of the baseline's from 2016-01, ended {args.end}"
    )
    print(table.round(3).to_string(index=False))
    print(f"targets met: history {history['within'].sum()}, variant {variant['within'].sum()}")
    births = runs.pivot_table(index=["seed", "year"], columns="label", values="births")
    by_year = (births["variant"] - births["history"]).groupby(level="year").mean()
    print("births a year, variant minus history (mean over the paired seeds):")
    print(by_year[by_year.index >= 2016].round(1).to_string())


if __name__ == "__main__":
    main()
