"""Run a scenario over replicates and print (or write) its calibration table.

    ./dev shell python scripts/calibration_table.py --replicates 8 --write docs/calibration_table.md

Each replicate is a full run of the scenario (the baseline by default; its own seed), its
burn-in under its own values as in a calibration; the table gives each target's range, the
model's mean over replicates and the 95 % interval of that mean. Dated targets
(``FIGURE@YEAR``, as in ``history_targets.yaml``) are computed for their year.
"""

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

import popsim
from popsim.calibration.targets import load_targets, table
from popsim.outputs.statistics import dated, dated_name, statistics
from popsim.scenario.timeline import OWN_PAST

ROOT = Path(__file__).resolve().parents[1]


def _figures(seed: int, *, scenario, agents, years, names) -> dict[str, float]:
    """One replicate's figures: the statistics and the dated ones among ``names``."""
    result = popsim.simulate(scenario, seed=seed, n_agents=agents, years=years)
    return statistics(result) | dated(result, [n for n in names if dated_name(n) is not None])


def main() -> int:
    """Print the scenario's calibration table against the targets; --write saves it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "params" / "baseline.yaml"))
    ap.add_argument("--targets", default=str(ROOT / "params" / "calibration" / "targets.yaml"))
    ap.add_argument("--replicates", type=int, default=8)
    ap.add_argument("--agents", type=int, default=None)
    ap.add_argument("--years", type=int, default=None)
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    ap.add_argument("--workers", type=int, default=2, help="processes (default: 2)")
    ap.add_argument("--write", help="write the table as Markdown into this file")
    args = ap.parse_args()
    # burn in under the scenario's own values, as a calibration does: a --set behaviour then
    # acts in the burn-in too (the baseline's past would leave its first years as they were)
    overrides = OWN_PAST | dict(popsim.scenario.loading.parse_override(s) for s in args.set)
    scenario = popsim.load_scenario(args.scenario, overrides)
    targets = load_targets(args.targets)
    started = time.perf_counter()
    one = partial(
        _figures,
        scenario=scenario,
        agents=args.agents,
        years=args.years,
        names=[t.name for t in targets],
    )
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        runs = list(pool.map(one, range(args.replicates)))
    out = table(runs, targets)
    wall = time.perf_counter() - started
    pd.set_option("display.width", 200)
    shown = out.drop(columns=["meaning", "source"])
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(
        f"{args.replicates} replicates, {wall:.0f} s on {args.workers} processes; "
        f"{int(out['within'].sum())} of {len(out)} targets within range"
    )
    if args.write:
        md = out.assign(
            **{
                c: out[c].map(lambda v: f"{v:.3f}")
                for c in ("model_mean", "ci95_low", "ci95_high", "sd", "z")
            }
        )
        md["within"] = md["within"].map({True: "yes", False: "**no**"})
        header = (
            f"Scenario `{Path(args.scenario).name}`, {args.replicates} replicates "
            f"(seeds 0-{args.replicates - 1}), {scenario.township.n_persons} persons, "
            f"{scenario.township.years} years. Regenerate with "
            f"`./dev shell python scripts/calibration_table.py --write {args.write}`.\n\n"
        )
        lines = ["| " + " | ".join(md.columns) + " |", "|" + "---|" * len(md.columns)]
        lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in md.itertuples(False)]
        Path(args.write).write_text(header + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
