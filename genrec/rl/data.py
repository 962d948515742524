"""RL prompts: the tasks whose answer is an item's SID, drawn from the training split.

`tasks` weighs them as SFT's do (copies of a task's natural set, or `{samples: N}`): `seq_rec` (history SIDs ->
next SID, the evaluation task), `title2sid`, `description2sid` and `title_hist2sid`, read from the prompt set's
`rl` templates. `max_samples` caps the mix (MiniOneRec notes that RL on tens of thousands of samples is enough;
null takes it whole). Every example keeps its target item and history for the rewards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genrec.errors import GenrecError
from genrec.prompts import ItemText, Template
from genrec.sft.settings import RL_TASKS
from genrec.sft.tasks import Example, mixed_examples, task_weight


def rl_examples(tasks: dict[str, float | dict], max_samples: int | None, templates: dict[str, Template],
                text: ItemText, rows: pd.DataFrame, prompt_history: int, seed: int) -> list[Example]:
    """The mixed, shuffled RL prompts, at most `max_samples` of them."""
    if not any(task_weight(w) > 0 for w in tasks.values()) or (max_samples is not None and max_samples < 1):
        raise GenrecError("no RL prompts: every task weight is 0 or max_samples < 1", key="rl.tasks")
    examples = mixed_examples(tasks, RL_TASKS, templates, text, rows, prompt_history, seed, "rl.tasks")
    if max_samples is not None and len(examples) > max_samples:
        keep = np.random.default_rng(seed + 1).choice(len(examples), size=max_samples, replace=False)
        examples = [examples[i] for i in np.sort(keep)]
    return examples


def unique_prompts(examples: list[Example]) -> list[Example]:
    """The first example of each prompt: a prompt then names one target (the rollout looks it up by prompt;
    identical histories with different next items are rare and would be contradictory positives anyway)."""
    seen: set[str] = set()
    return [e for e in examples if not (e.prompt in seen or seen.add(e.prompt))]
