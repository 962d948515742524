"""RL prompts: the SFT tasks whose answer is an item's SID, drawn from the training split.

`tasks` gives each task's share of the `max_samples` prompts (MiniOneRec notes that RL on tens of thousands
of samples is enough): `seq_rec` (history SIDs -> next SID, the evaluation task), `title2sid` and
`title_hist2sid`. Every example keeps its target item and history for the rewards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genrec.errors import GenrecError
from genrec.prompts import ItemText
from genrec.sft.tasks import Example, recent_history, task_examples

RL_TASKS = ("seq_rec", "title2sid", "title_hist2sid")


def rl_examples(tasks: dict[str, float], max_samples: int, templates: dict, text: ItemText, rows: pd.DataFrame,
                prompt_history: int, seed: int) -> list[Example]:
    """`max_samples` prompts split over `tasks` by their shares (each at most its natural set), shuffled."""
    unknown = sorted(set(tasks) - set(RL_TASKS))
    if unknown:
        raise GenrecError(f"unknown RL task(s) {unknown}: RL needs tasks answered by a SID", key="rl.tasks",
                          fix=f"use {list(RL_TASKS)}")
    shares = {task: float(share) for task, share in tasks.items() if share > 0}
    if not shares or max_samples < 1:
        raise GenrecError("no RL prompts: every task share is 0 or max_samples < 1", key="rl.tasks")
    rng = np.random.default_rng(seed)
    rows = recent_history(rows, prompt_history)
    total = sum(shares.values())
    examples: list[Example] = []
    for task, share in shares.items():
        pool = task_examples(task, templates, text, rows, rng)
        n = min(len(pool), round(max_samples * share / total))
        examples += [pool[i] for i in rng.choice(len(pool), size=n, replace=False)]
    return [examples[i] for i in rng.permutation(len(examples))]


def unique_prompts(examples: list[Example]) -> list[Example]:
    """The first example of each prompt: a prompt then names one target (the rollout looks it up by prompt;
    identical histories with different next items are rare and would be contradictory positives anyway)."""
    seen: set[str] = set()
    return [e for e in examples if not (e.prompt in seen or seen.add(e.prompt))]
