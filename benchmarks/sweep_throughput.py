"""Throughput of one sweep on each executor: runs per minute, and whether the tables agree.

    ./dev shell python benchmarks/sweep_throughput.py [--runs 200] [--agents 2000] [--years 5]

The sweep is a Latin hypercube over four baseline levers, runs/2 points x 2 replicates. It
runs with 1 local worker (in this process), 2 local processes and a two-worker Dask
LocalCluster, each into a fresh temporary folder; the wall time includes starting the
workers (and the cluster). Prints one line per executor; never asserts a time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from pandas.testing import assert_frame_equal

from popsim.sweeps.sweep import read_runs, run_sweep

ROOT = Path(__file__).resolve().parents[1]
SWEEP = """\
scenario: {baseline}
parameters:
  policy.decision.son_preference: {{low: 0.4, high: 0.8}}
  policy.fee.multiple: {{low: 2, high: 6}}
  policy.checkups.participation: {{low: 0.7, high: 1.0}}
  policy.sex_selection.crackdown: {{low: 0.0, high: 0.6}}
design: latin_hypercube
samples: {points}
replicates: 2
seed: 1
n_agents: {agents}
years: {years}
outputs: [statistics, annual]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--years", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="popsim-sweep-bench-") as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(
            SWEEP.format(
                baseline=ROOT / "params" / "baseline.yaml",
                points=args.runs // 2,
                agents=args.agents,
                years=args.years,
            )
        )
        print(
            f"{args.runs} runs of {args.agents} persons x {args.years} years "
            "(after the baseline's 10-year burn-in), outputs: all statistics + annual table"
        )
        reference = None
        for label, kw in (
            ("1 local worker", {"workers": 1}),
            ("2 local processes", {"workers": 2}),
            ("Dask LocalCluster, 2 workers", {"workers": 2, "scheduler": "local-dask"}),
        ):
            out = Path(tmp) / label.replace(" ", "_").replace(",", "")
            start = time.perf_counter()
            summary = run_sweep(path, out, progress=False, echo=None, **kw)
            seconds = time.perf_counter() - start
            runs = read_runs(out)
            same = ""
            if reference is None:
                reference = runs
            else:
                assert_frame_equal(runs, reference, check_exact=True)
                same = ", tables identical to the first"
            print(
                f"{label:<30} {seconds:7.1f} s  {60 * summary.ran / seconds:6.1f} runs/min  "
                f"({len(summary.failed)} failed{same})"
            )


if __name__ == "__main__":
    main()
