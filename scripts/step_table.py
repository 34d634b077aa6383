"""Write the month's step table, generated from popsim.model.steps, into docs/model.md.

    ./dev shell python scripts/step_table.py

The table sits between two marker comments; tests/test_steps.py fails when it is stale.
"""

from __future__ import annotations

from pathlib import Path

from popsim.model.step import markdown
from popsim.model.steps import SHARED, STEPS

DOC = Path(__file__).resolve().parents[1] / "docs" / "model.md"
BEGIN, END = "<!-- step table: begin -->", "<!-- step table: end -->"


def shared_table() -> str:
    """The columns with several writing steps, and why, as Markdown."""
    rows = ["| column | why more than one step writes it |", "|---|---|"]
    rows += [f"| `{name}` | {why} |" for name, why in SHARED.items()]
    return "\n".join(rows)


def main() -> None:
    """Replace the text between the markers with the current tables."""
    text = DOC.read_text()
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    body = f"{markdown(STEPS)}\n\nColumns written by more than one step:\n\n{shared_table()}"
    DOC.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}")
    print(f"wrote the step table into {DOC}")


if __name__ == "__main__":
    main()
