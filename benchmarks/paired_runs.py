"""CPU seconds of single runs, old code against new, alternating: ratios measured side by side.

    git worktree add /tmp/popsim-old <old commit>
    ./dev shell python benchmarks/paired_runs.py --old-src /tmp/popsim-old/src
    ./dev shell python benchmarks/paired_runs.py --old-src /tmp/popsim-old/src \\
        --workload calibration --repeats 4

Two workloads, each run of each code in a fresh process with ``PYTHONPATH`` on that code's
``src`` (the draws' kernels warmed by a small run first, so numba's loading is not timed):

* ``township``: the built-in baseline resized to ``--agents`` persons and ``--years``
  recorded years (default 10,000 x 30, the FPsim comparison's size). It prints the CPU
  seconds of the whole run (construction, burn-in and recorded months) and of the recorded
  months alone.
* ``calibration``: one trial as ``popsim calibrate params/calibration/baseline.yaml`` runs it
  (``run_one`` with the calibration's start values, its size and its targets' outputs, the
  burn-in under the trial's own values), so construction, burn-in, recorded months, the
  result tables and the targets' figures are all timed.

The codes alternate and swap which goes first every repeat, so both see the same machine
load; seed r serves repeat r for both. Prints each code's median and the median and range of
the paired ratios old / new (above 1: the new code is faster), and whether both codes gave
identical outputs (the person table's hash, or the targets' figures). Never asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION = ROOT / "params" / "calibration" / "baseline.yaml"

CHILD = r"""
import hashlib, json, sys, time
import numpy as np
import popsim
from popsim.model.township import PopsimModel
from popsim.outputs.runner import resize

workload, seed, agents, years, calibration = sys.argv[1:6]
seed, agents, years = int(seed), int(agents), int(years)
PopsimModel(resize(popsim.load_scenario(None), 2000, 1), seed=0).run()  # load the kernels
if workload == "township":
    scenario = resize(popsim.load_scenario(None), agents, years)
    t0 = time.process_time()
    model = PopsimModel(scenario, seed=seed)
    t1 = time.process_time()
    model.run()
    t2 = time.process_time()
    p, digest = model.world.persons, hashlib.sha256()
    for column in p.columns:
        digest.update(np.ascontiguousarray(getattr(p, column)).tobytes())
    print(json.dumps({"whole": t2 - t0, "recorded months": t2 - t1, "out": digest.hexdigest()}))
else:
    from popsim.calibration.spec import load_calibration
    from popsim.sweeps.executors import run_one

    cal = load_calibration(calibration)
    outputs = tuple(t.name for t in cal.targets)
    t0 = time.process_time()
    out = run_one(cal.scenario, seed, cal.base_values(), cal.spec.n_agents, cal.spec.years, outputs)
    print(json.dumps({"run": time.process_time() - t0, "out": repr(sorted(out.items()))}))
"""


def one(src: str, workload: str, seed: int, args: argparse.Namespace) -> dict:
    """One run of ``workload`` with the code in ``src``, in a fresh process."""
    env = {**os.environ, "PYTHONPATH": src}
    argv = [workload, str(seed), str(args.agents), str(args.years), str(CALIBRATION)]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *argv], env=env, capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode:
        sys.exit(f"{src}: the run failed\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-src", required=True, help="the old code's src folder")
    ap.add_argument("--workload", choices=("township", "calibration"), default="township")
    ap.add_argument("--agents", type=int, default=10_000, help="township: initial persons")
    ap.add_argument("--years", type=int, default=30, help="township: recorded years")
    ap.add_argument("--repeats", type=int, default=6)
    args = ap.parse_args()
    trees = {"old": str(Path(args.old_src).resolve()), "new": str(ROOT / "src")}
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    print(f"load at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for r in range(args.repeats):
        for name in list(trees) if r % 2 == 0 else list(trees)[::-1]:
            runs[name].append(one(trees[name], args.workload, r, args))
            times = {k: round(v, 3) for k, v in runs[name][-1].items() if k != "out"}
            print(f"  repeat {r + 1}/{args.repeats} {name}: {times} CPU-s", flush=True)
    print(f"load at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\n{args.workload}: CPU seconds, medians of {args.repeats}; ratio old / new, paired")
    for key in (k for k in runs["old"][0] if k != "out"):
        old = [run[key] for run in runs["old"]]
        new = [run[key] for run in runs["new"]]
        ratios = [a / b for a, b in zip(old, new, strict=True)]
        print(
            f"{key:>16}: old {statistics.median(old):.3f}  new {statistics.median(new):.3f}  "
            f"ratio {statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})"
        )
    same = [a["out"] == b["out"] for a, b in zip(runs["old"], runs["new"], strict=True)]
    print(f"identical outputs: {sum(same)} of {len(same)} repeats")


if __name__ == "__main__":
    main()
