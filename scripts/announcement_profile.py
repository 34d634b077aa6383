"""When couples began to plan for the universal two-child rule: a profile of one month.

The rule held from 2016-01 and was announced by the plenum of 2015-10-29, but the births of
January-June 2016, conceived from about April 2015, were already 44.7 % second children
against 37.9 % in 2015, a rise of 6.8 points (National Health and Family Planning
Commission, China Daily 2016-10-31: "some families got started early in their planning for
a second child, before the policy became official"). For each candidate month of the history
scenario's 2016 change (``timeline.1.announced``: from then couples plan under the rule),
this prints the same rise in the township, over paired seeds, and 2016's births per 100 of 2015's.

    ./dev shell python scripts/announcement_profile.py --months 2015-11,2015-06,2015-04
"""

from __future__ import annotations

import argparse
from multiprocessing import Pool

import numpy as np
import pandas as pd

from popsim.sweeps.executors import run_one

HISTORY = "params/scenarios/history.yaml"
ENTRY = "timeline.1.announced"  # the universal two-child rule of 2016-01
SOURCE_RISE = 0.447 - 0.379  # second-child share, January-June 2016 against 2015 (NHFPC)


def second_births(args: tuple[str, int, int]) -> pd.DataFrame:
    """The births of one seed with the 2016 rule announced in ``month``."""
    month, seed, agents = args
    ev = run_one(HISTORY, seed, {ENTRY: month}, n_agents=agents, years=8, outputs=["events"])
    births = ev["events"]
    births = births[births["event"] == "birth"]
    return births[["year", "month", "order"]].assign(seed=seed)


def rise(births: pd.DataFrame) -> tuple[float, float, float]:
    """(share 2015, share January-June 2016, births index 2016) of these births."""
    second = births["order"] == 2
    in_2015, in_2016 = births["year"] == 2015, births["year"] == 2016
    first_half = in_2016 & (births["month"] % 12 < 6)
    return (
        float(second[in_2015].mean()),
        float(second[first_half].mean()),
        100.0 * in_2016.sum() / in_2015.sum(),
    )


def main() -> None:
    """Print the rise for each month asked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--months", default="2015-11,2015-08,2015-06,2015-04,2015-02")
    parser.add_argument("--replicates", type=int, default=8)
    parser.add_argument("--agents", type=int, default=38000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"source: second-child share +{SOURCE_RISE:.3f} (37.9 % in 2015, 44.7 % in H1 2016)")
    print(f"{args.replicates} seeds x {args.agents:,} persons; pooled births of the seeds")
    print("announced   share 2015  share H1 2016    rise  (single seeds)  2016 per 100 of 2015")
    with Pool(args.workers) as pool:
        for month in args.months.split(","):
            runs = pool.map(
                second_births, [(month, s, args.agents) for s in range(args.replicates)]
            )
            share_2015, share_h1, index = rise(pd.concat(runs))
            single = [r[1] - r[0] for r in map(rise, runs)]
            spread = f"{np.min(single):+.3f}..{np.max(single):+.3f}"
            print(
                f"{month:>9}   {share_2015:10.3f}  {share_h1:13.3f}  {share_h1 - share_2015:+.3f}"
                f"  ({spread})  {index:10.1f}"
            )


if __name__ == "__main__":
    main()
