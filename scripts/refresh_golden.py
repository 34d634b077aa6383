"""Rewrite the golden regression set: a few small runs whose tables tests/test_golden.py compares.

Run it only when a change is meant to alter results, and say why in the commit message:

    ./dev shell python scripts/refresh_golden.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from golden import CASES, GOLDEN, run_case  # noqa: E402


def main() -> None:
    """Run every case and write its tables as Parquet under tests/golden/."""
    if GOLDEN.exists():
        shutil.rmtree(GOLDEN)
    for case in CASES:
        out = GOLDEN / case.name
        out.mkdir(parents=True)
        for table, frame in run_case(case).items():
            frame.to_parquet(out / f"{table}.parquet", index=False)
        print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
