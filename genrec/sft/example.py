"""One training example, whatever its task: a prompt and the response the loss is taken on."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Example:
    task: str
    prompt: str
    response: str
    target: int = -1                  # the item the response names (RL rewards score candidates against it)
    history: tuple[int, ...] = ()     # the user's items the prompt shows (empty for item tasks)
    # sequence mode (genrec/sft/sequences.py): the items whose SIDs the response holds, each supervised; the loss
    # is then on SID tokens only, and no EOS follows. Empty: one response, ending with EOS.
    targets: tuple[int, ...] = ()


def recent_history(rows: pd.DataFrame, prompt_history: int) -> pd.DataFrame:
    """Rows with each history cut to its latest `prompt_history` items (what prompts show)."""
    return rows.assign(history=[list(h)[-prompt_history:] for h in rows["history"]])
