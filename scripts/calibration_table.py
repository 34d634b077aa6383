"""Run the baseline over replicates and print (or write) its calibration table.

    ./dev shell python scripts/calibration_table.py --replicates 8 --write docs/calibration.md

Each replicate is a full baseline run (its own seed); the table gives each target's range,
the model's mean over replicates and the 95 % interval of that mean.
"""

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

import popsim
from popsim.calibration.targets import load_targets, table
from popsim.outputs.statistics import statistics

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    """Print the scenario's calibration table against the targets; --write saves it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "params" / "baseline.yaml"))
    ap.add_argument("--targets", default=str(ROOT / "params" / "calibration" / "targets.yaml"))
    ap.add_argument("--replicates", type=int, default=8)
    ap.add_argument("--agents", type=int, default=None)
    ap.add_argument("--years", type=int, default=None)
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    ap.add_argument("--write", help="write the table as Markdown into this file")
    args = ap.parse_args()
    overrides = dict(popsim.scenario.loading.parse_override(s) for s in args.set)
    scenario = popsim.load_scenario(args.scenario, overrides)
    started = time.process_time()
    runs = [
        statistics(popsim.simulate(scenario, seed=s, n_agents=args.agents, years=args.years))
        for s in range(args.replicates)
    ]
    out = table(runs, load_targets(args.targets))
    cpu = time.process_time() - started
    pd.set_option("display.width", 200)
    shown = out.drop(columns=["meaning", "source"])
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(
        f"{args.replicates} replicates, {cpu:.1f} CPU-s; {int(out['within'].sum())} of "
        f"{len(out)} targets within range"
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
            f"Baseline `{Path(args.scenario).name}`, {args.replicates} replicates "
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
