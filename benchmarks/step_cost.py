"""Wall milliseconds per recorded month of each step of the month's table, at several sizes.

    ./dev shell python benchmarks/step_cost.py                       # 2,000, 10,000, 50,000
    ./dev shell python benchmarks/step_cost.py --sizes 38000 --runs 2 --years 3

Runs the built-in baseline ``--runs`` times per size (seeds 0, 1, ...) and times every call
of the month's steps (:data:`popsim.model.steps.STEPS`) in its ``--years`` recorded years
(``time.perf_counter``: at a few microseconds a call, CPU time would cost more than most
steps). The sizes' columns show how each step grows with the township: what a step costs at
2,000 persons is mostly a fixed cost per month (Python's work around numpy's calls), what it
adds by 50,000 is its work over the rows. A small run that loads the compiled kernels comes
first and is not timed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import popsim
from popsim.model.township import PopsimModel
from popsim.outputs.runner import resize


def _timed(call: Callable[[], None], name: str, spent: dict[str, float]) -> Callable[[], None]:
    def timed() -> None:
        started = time.perf_counter()
        call()
        spent[name] = spent.get(name, 0.0) + time.perf_counter() - started

    return timed


def step_costs(size: int, runs: int, years: int) -> tuple[float, dict[str, float]]:
    """(ms per recorded month in all, ms per recorded month of each step)."""
    scenario = resize(popsim.load_scenario(None), size, years)
    spent: dict[str, float] = {}
    total = 0.0
    for seed in range(runs):
        model = PopsimModel(scenario, seed=seed)
        # the model's own list of (when due, timer, call), one per step it has
        model._calls = [
            (due, bucket, _timed(call, step.name, spent))
            for step, (due, bucket, call) in zip(model.month_steps, model._calls, strict=True)
        ]
        started = time.perf_counter()
        model.run()
        total += time.perf_counter() - started
    months = runs * years * 12
    return total / months * 1e3, {k: v / months * 1e3 for k, v in spent.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2000,10000,50000", help="initial persons, comma-separated")
    ap.add_argument("--runs", type=int, default=4, help="runs per size")
    ap.add_argument("--years", type=int, default=10, help="recorded years per run")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    PopsimModel(resize(popsim.load_scenario(None), 2000, 1), seed=0).run()  # load the kernels
    results = {size: step_costs(size, args.runs, args.years) for size in sizes}
    names = sorted(results[sizes[-1]][1], key=lambda n: -results[sizes[-1]][1][n])
    print(f"ms per recorded month, {args.runs} runs x {args.years} years per size")
    print(f"{'step':<28}" + "".join(f"{size:>12,}" for size in sizes))
    print(f"{'the whole month':<28}" + "".join(f"{results[s][0]:>12.3f}" for s in sizes))
    for name in names:
        print(f"{name:<28}" + "".join(f"{results[s][1].get(name, 0.0):>12.3f}" for s in sizes))


if __name__ == "__main__":
    main()
