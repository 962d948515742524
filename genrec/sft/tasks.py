"""Training tasks as (prompt, response) pairs, mixed by configurable weights (MiniOneRec's `data.py` classes).

- `seq_rec`: history SIDs -> next item's SID (the recommendation task, also the evaluation prompt; `SidSFTDataset`)
- `title2sid` / `sid2title`: an item's title <-> its SID (aligns the new tokens with language; `SidItemFeatDataset`)
- `hist2title`: history SIDs -> next item's title (`FusionSeqRecDataset`)
- `hist2description`: history SIDs -> next item's description (that class's branch MiniOneRec comments out)
- `title_hist2sid`: history of titles -> next item's SID (`TitleHistory2SidSFTDataset`)
- `title_hist2title`: history of titles -> next item's title (`SFTData`)
- `description2sid`: an item's description -> its SID (`RLTitle2SidDataset`'s second half; LC-Rec's `item2index`)
- `titledesc2sid`, `sid2description`, `sid2titledesc`: the rest of LC-Rec's index-language alignment
  (RUCAIBox/LC-Rec @ e6f1b3b, data.py `ItemFeatDataset`: an item's title and description -> its SID; its SID -> its
  description, or its title and description)

Each task reads the template of its own name (`genrec.prompts`). A task's weight is how many copies of its
natural example set one epoch sees (0.5 = a random half, 2 = twice), or `{samples: N}` for N of them drawn at
random (MiniOneRec's `sample=`); recommendation tasks have one example per training row, item tasks one per item.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genrec.errors import GenrecError
from genrec.prompts import TITLE_HISTORY_TASKS, ItemText, Template
from genrec.sft.example import Example, recent_history
from genrec.sft.sequences import check_chaining, sequence_examples
from genrec.sft.settings import TASKS

# item tasks: the item text each one asks by and the text an item needs to give an example
ITEM_TASKS = {"title2sid": ("titles", ("title",)), "sid2title": ("sids", ("title",)),
              "description2sid": ("descriptions", ("description",)),
              "titledesc2sid": ("titles_and_descriptions", ("title", "description")),
              "sid2description": ("sids", ("description",)), "sid2titledesc": ("sids", ("title", "description"))}
# the item text a task needs of its target: an item without it gives no example
NEEDS = {"hist2title": "title", "hist2description": "description", "title_hist2title": "title"}


def check_templates(templates: dict[str, Template], tasks: list[str], where: str) -> None:
    for task in tasks:
        if task not in templates:
            raise GenrecError(f"prompt template '{task}' is missing", key=f"{where}.{task}",
                              fix="add it, with `prompt:` and `response:` strings, under the set's `sft:`")


def task_examples(task: str, templates: dict[str, Template], text: ItemText, rows: pd.DataFrame,
                  rng: np.random.Generator) -> list[Example]:
    """The natural example set of one task: one per item (item tasks) or per row of `rows`."""
    template = templates[task]
    out = []
    if task in ITEM_TASKS:
        # one example per distinct question (title, SID, description, or both texts), answered by the last item
        # that has it: MiniOneRec keys these tasks by that text (`SidItemFeatDataset`, `RLTitle2SidDataset`)
        asked_by, needs = ITEM_TASKS[task]
        asked = (list(zip(text.titles, text.descriptions)) if asked_by == "titles_and_descriptions"
                 else getattr(text, asked_by))
        last = {question: item for item, question in enumerate(asked)
                if all(getattr(text, field + "s")[item] for field in needs)}
        for item in last.values():
            out.append(Example(task, *template.render(rng, **text.fields(item)), target=item))
        return out
    needs = NEEDS.get(task)
    for history, target in zip(rows["history"], rows["target"]):
        if needs and not getattr(text, needs + "s")[target]:
            continue
        if task in TITLE_HISTORY_TASKS:
            shown = text.history_titles(history, template.history_separator)
        else:
            shown = text.history_sids(history, template.history_separator)
        out.append(Example(task, *template.render(rng, history=shown, **text.fields(target)), target=int(target),
                           history=tuple(int(i) for i in history)))
    return out


def sample_weighted(examples: list[Example], weight: float | dict, rng: np.random.Generator) -> list[Example]:
    """`weight` copies of the set (whole copies, then a random subset for the fraction), or `{samples: N}`:
    N examples drawn without replacement (the whole set where it has fewer)."""
    if isinstance(weight, dict):
        n = min(int(weight["samples"]), len(examples))
        return [examples[i] for i in rng.choice(len(examples), size=n, replace=False)]
    whole, fraction = int(weight), weight - int(weight)
    picked = examples * whole
    if fraction > 0:
        picked += [examples[i] for i in rng.choice(len(examples), size=round(fraction * len(examples)), replace=False)]
    return picked


def task_weight(weight: float | dict) -> float:
    """How much of a task one epoch sees, as a number to compare with 0 (a task with weight 0 is off)."""
    return float(weight["samples"]) if isinstance(weight, dict) else float(weight)


def mixed_examples(weights: dict[str, float | dict], tasks: tuple[str, ...], templates: dict[str, Template],
                   text: ItemText, rows: pd.DataFrame, prompt_history: int, seed: int, key: str,
                   seq_rec_mode: str = "row") -> list[Example]:
    """The mixed, shuffled examples of `weights` (tasks of `tasks` only), histories cut to their last
    `prompt_history` items; `seq_rec_mode: sequence` makes `seq_rec`'s examples windows of users' sequences
    (genrec/sft/sequences.py), whose weight then counts copies of those."""
    unknown = sorted(set(weights) - set(tasks))
    if unknown:
        raise GenrecError(f"unknown task(s) {unknown}", key=key, fix=f"use {list(tasks)}")
    if len(rows) == 0:
        raise GenrecError("the training split is empty: nothing to train on")
    rng = np.random.default_rng(seed)
    rows = recent_history(rows, prompt_history)
    examples: list[Example] = []
    for task in tasks:
        weight = weights.get(task, 0.0)
        if task_weight(weight) > 0:
            if task == "seq_rec" and seq_rec_mode == "sequence":
                check_chaining(templates[task], f"{key}.seq_rec")
                natural = sequence_examples(templates[task], text, rows)
            else:
                natural = task_examples(task, templates, text, rows, rng)
            examples += sample_weighted(natural, weight, rng)
    order = rng.permutation(len(examples))
    return [examples[i] for i in order]


def build_examples(weights: dict[str, float | dict], templates: dict[str, Template], text: ItemText,
                   rows: pd.DataFrame, prompt_history: int, seed: int, seq_rec_mode: str = "row") -> list[Example]:
    """The mixed, shuffled SFT example list of one epoch."""
    return mixed_examples(weights, TASKS, templates, text, rows, prompt_history, seed, "sft.tasks", seq_rec_mode)
