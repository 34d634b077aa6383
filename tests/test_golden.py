"""Golden regression set: results must not change by accident.

Each case is rerun and every table compared with the Parquet written by
``scripts/refresh_golden.py``. Counts, ids and categories must match exactly; a
single different random draw changes them. Floats (rates, money) must match to
1e-12 relative, which tolerates only the last bits of a reordered sum. When a change
is meant to alter results, run the script and say why in the commit.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from golden import CASES, GOLDEN, run_case

REFRESH = "if the change is intended, run `./dev shell python scripts/refresh_golden.py`"


def assert_same_table(name: str, got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns), f"{name}: columns differ; {REFRESH}"
    assert len(got) == len(want), f"{name}: {len(got)} rows, golden {len(want)}; {REFRESH}"
    for col in want.columns:
        g, w = got[col].to_numpy(), want[col].to_numpy()
        if np.issubdtype(w.dtype, np.floating):
            np.testing.assert_allclose(
                g.astype(float),
                w,
                rtol=1e-12,
                atol=0,
                equal_nan=True,
                err_msg=f"{name}.{col} differs from the golden set; {REFRESH}",
            )
        else:
            assert g.dtype == w.dtype, f"{name}.{col}: dtype {g.dtype}, golden {w.dtype}"
            assert np.array_equal(g, w), f"{name}.{col} differs from the golden set; {REFRESH}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_tables_match_the_golden_set(case):
    folder = GOLDEN / case.name
    assert folder.is_dir(), f"no golden files for {case.name}; {REFRESH}"
    tables = run_case(case)
    assert {f"{t}.parquet" for t in tables} == {f.name for f in folder.glob("*.parquet")}
    for table, frame in tables.items():
        want = pd.read_parquet(folder / f"{table}.parquet")
        got = pd.read_parquet(io.BytesIO(frame.to_parquet(index=False)))  # same dtypes as want
        assert_same_table(f"{case.name}/{table}", got, want)
