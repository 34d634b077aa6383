"""Birth registration: the reported layer of every KPI (DOMAIN item 14).

A birth is registered with probability ``in_plan`` or ``out_of_plan``; a
misreporting ``penalty`` closes that share of the gap to full registration. A
birth whose pregnancy was found at a check-up is known and registered. Since
out-of-plan births go unreported more often, reported compliance exceeds the
true one.
"""

from __future__ import annotations

import numpy as np


def report_probability(out_of_plan, *, in_plan, out_plan, penalty) -> np.ndarray:
    """Chance each birth is registered."""
    p_in = in_plan + penalty * (1 - in_plan)
    p_out = out_plan + penalty * (1 - out_plan)
    return np.where(out_of_plan, p_out, p_in)
