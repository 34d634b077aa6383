"""Papermill's overhead per scenario in a batch: notebook execution minus the work itself.

    ./dev shell python benchmarks/batch_overhead.py [--repeats 5] [--agents 500] [--years 1]

Runs ``notebooks/scenario.ipynb`` through papermill (kernel ``python3``, the current
environment) on a tiny request, and the same request in-process with
``popsim.outputs.replicates.run``, alternating, ``--repeats`` times each. Prints the medians of
the wall times and their difference: what every scenario of ``popsim batch`` pays for its
kernel start, imports, figures and notebook I/O on top of the simulation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--agents", type=int, default=500)
    ap.add_argument("--years", type=int, default=1)
    args = ap.parse_args()

    import papermill

    from popsim.outputs import replicates

    scenario = str(ROOT / "params" / "baseline.yaml")
    notebook, inproc = [], []
    print(f"load at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            out = Path(tmp) / f"nb{i}"
            started = time.perf_counter()
            papermill.execute_notebook(
                str(ROOT / "notebooks" / "scenario.ipynb"),
                str(Path(tmp) / f"executed{i}.ipynb"),
                parameters={
                    "scenario": scenario,
                    "replicates": 1,
                    "n_agents": args.agents,
                    "years": args.years,
                    "out_dir": str(out),
                },
                kernel_name="python3",
                cwd=str(ROOT / "notebooks"),
                progress_bar=False,
            )
            notebook.append(time.perf_counter() - started)
            started = time.perf_counter()
            req = replicates.request(scenario, replicates=1, n_agents=args.agents, years=args.years)
            replicates.run(req, Path(tmp) / f"direct{i}")
            inproc.append(time.perf_counter() - started)
    nb, ip = statistics.median(notebook), statistics.median(inproc)
    print(
        f"scenario.ipynb, 1 replicate x {args.agents} persons x {args.years} year(s), "
        f"{args.repeats} runs each, alternating; wall seconds, medians"
    )
    print(f"  through papermill : {nb:6.2f}   (runs: {', '.join(f'{v:.2f}' for v in notebook)})")
    print(f"  in process        : {ip:6.2f}   (runs: {', '.join(f'{v:.2f}' for v in inproc)})")
    print(f"  overhead per scenario: {nb - ip:.2f} s")
    print(f"load at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
