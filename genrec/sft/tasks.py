"""MiniOneRec's SFT tasks as (prompt, response) pairs, mixed by configurable weights.

- `seq_rec`: history SIDs -> next item's SID (the recommendation task, also the evaluation prompt)
- `title2sid` / `sid2title`: an item's title <-> its SID (aligns the new tokens with language)
- `hist2text`: history SIDs -> next item's title or description (branch chosen at random per example)
- `title_hist2sid`: history of titles -> next item's SID

Templates come from config (`prompts.<set>.<template>`); placeholders are {history}, {sid}, {title},
{description}. A task's weight is how many copies of its natural example set one epoch sees (0.5 = a
random half, 2 = twice); recommendation tasks have one example per training row, item tasks one per item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genrec.errors import GenrecError
from genrec.prompts import ItemText, render
from genrec.sft.settings import TASKS

TEMPLATES = {"seq_rec": ["seq_rec"], "title2sid": ["title2sid"], "sid2title": ["sid2title"],
             "hist2text": ["hist2title", "hist2description"], "title_hist2sid": ["title_hist2sid"]}


@dataclass(frozen=True)
class Example:
    task: str
    prompt: str
    response: str
    target: int = -1                  # the item the response names (RL rewards score candidates against it)
    history: tuple[int, ...] = ()     # the user's items the prompt shows (empty for item tasks)


def check_templates(templates: dict[str, dict], tasks: list[str], where: str) -> None:
    for task in tasks:
        for name in TEMPLATES[task]:
            entry = templates.get(name)
            if not isinstance(entry, dict) or not {"prompt", "response"} <= set(entry):
                raise GenrecError(f"prompt template '{name}' (task {task}) is missing or lacks prompt/response",
                                  key=f"{where}.{name}", fix="add `prompt:` and `response:` strings")


def task_examples(task: str, templates: dict, text: ItemText, rows: pd.DataFrame,
                  rng: np.random.Generator) -> list[Example]:
    """The natural example set of one task: one per item (item tasks) or per row of `rows`."""
    out = []
    if task in ("title2sid", "sid2title"):
        for item, title in enumerate(text.titles):
            if title:
                out.append(Example(task, *render(templates[task], sid=text.sids[item], title=title), target=item))
        return out
    for history, target in zip(rows["history"], rows["target"]):
        if task == "seq_rec":
            fields = {"history": text.history_sids(history)}
            name = "seq_rec"
        elif task == "title_hist2sid":
            fields = {"history": text.history_titles(history)}
            name = "title_hist2sid"
        else:  # hist2text: title or description of the next item, at random
            name = "hist2title" if rng.random() < 0.5 or not text.descriptions[target] else "hist2description"
            fields = {"history": text.history_sids(history)}
            if not text.titles[target] and name == "hist2title":
                continue
        fields.update(sid=text.sids[target], title=text.titles[target], description=text.descriptions[target])
        out.append(Example(task, *render(templates[name], **fields), target=int(target),
                           history=tuple(int(i) for i in history)))
    return out


def sample_weighted(examples: list[Example], weight: float, rng: np.random.Generator) -> list[Example]:
    """`weight` copies of the set: whole copies, then a random subset for the fraction."""
    whole, fraction = int(weight), weight - int(weight)
    picked = examples * whole
    if fraction > 0:
        picked += [examples[i] for i in rng.choice(len(examples), size=round(fraction * len(examples)), replace=False)]
    return picked


def recent_history(rows: pd.DataFrame, prompt_history: int) -> pd.DataFrame:
    """Rows with each history cut to its latest `prompt_history` items (what prompts show)."""
    return rows.assign(history=[list(h)[-prompt_history:] for h in rows["history"]])


def build_examples(weights: dict[str, float], templates: dict, text: ItemText, rows: pd.DataFrame,
                   prompt_history: int, seed: int) -> list[Example]:
    """The mixed, shuffled SFT example list of one epoch (histories cut to their last `prompt_history` items)."""
    unknown = sorted(set(weights) - set(TASKS))
    if unknown:
        raise GenrecError(f"unknown SFT task(s) {unknown}", key="sft.tasks", fix=f"use {list(TASKS)}")
    if len(rows) == 0:
        raise GenrecError("the training split is empty: nothing to fine-tune on")
    rng = np.random.default_rng(seed)
    rows = recent_history(rows, prompt_history)
    examples: list[Example] = []
    for task in TASKS:
        weight = float(weights.get(task, 0.0))
        if weight > 0:
            examples += sample_weighted(task_examples(task, templates, text, rows, rng), weight, rng)
    order = rng.permutation(len(examples))
    return [examples[i] for i in order]
