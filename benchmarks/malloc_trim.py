"""CPU time of one run with and without Dask's ``MALLOC_TRIM_THRESHOLD_=65536``, paired.

    ./dev shell python benchmarks/malloc_trim.py [--agents 38000] [--years 3] [--pairs 3]

Dask's nannies start their workers with that variable set, which also fixes glibc's mmap
threshold at 128 KiB: every larger array is mapped and zeroed afresh. ``popsim.sweeps.cluster``
leaves it unset in the local cluster it starts; this measures why. Each run is a fresh
process (seed k of pair k, both settings), the settings alternating and swapping order each
pair; the time is ``run_one``'s CPU time (burn-in and recorded years, imports excluded).
Prints each pair and the median ratio. Never asserts a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRIM = "MALLOC_TRIM_THRESHOLD_"


def one(seed: int, agents: int, years: int) -> None:
    from popsim.sweeps.executors import run_one

    start = time.process_time()
    run_one(None, seed, n_agents=agents, years=years)
    print(time.process_time() - start)


def child(seed: int, trim: bool, args: argparse.Namespace) -> float:
    env = {k: v for k, v in os.environ.items() if k != TRIM} | ({TRIM: "65536"} if trim else {})
    cmd = [sys.executable, __file__, "--one", str(seed), "--agents", str(args.agents)]
    cmd += ["--years", str(args.years)]
    out = subprocess.run(cmd, env=env, check=True, cwd=ROOT, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=38_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        one(args.one, args.agents, args.years)
        return
    print(f"one run of {args.agents:,} persons x {args.years} years after the 10-year burn-in")
    print(f"load at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")
    ratios = []
    for k in range(args.pairs):
        order = (False, True) if k % 2 == 0 else (True, False)
        cpu = {trim: child(k, trim, args) for trim in order}
        ratios.append(cpu[True] / cpu[False])
        print(
            f"  seed {k}: unset {cpu[False]:6.2f} CPU-s, {TRIM}=65536 {cpu[True]:6.2f} CPU-s, "
            f"ratio {ratios[-1]:.2f}"
        )
    print(f"load at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"median ratio (set / unset): {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
