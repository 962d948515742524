"""Sequence-level `seq_rec` training (`sft.seq_rec_mode: sequence`): one example per window of a user's training
sequence, supervising every target SID in it in one causal pass, instead of one example per training row that
encodes the row's whole history again.

The invariant: the text in front of each supervised SID is exactly the prompt evaluation decodes from for that
row (the row's history, cut to `prompt_history` items, rendered by the `seq_rec` template). Two things make it
hold:

- The template must chain: a row's prompt followed by its response is the start of the next row's prompt
  (`check_chaining`). `{history}` with SIDs back to back and `{sid}` as the response does; a prompt with text
  after the history ("history: ...\\nnext:") does not, and is refused.
- Windows are cut where contexts start. Target j's context is items s_j..j-1 of the sequence (s_j = j minus its
  history's length). Consecutive targets whose context starts at the same item share one window starting there:
  a user whose sequence is within the cap is one window, and past the cap each target gets its own window of
  cap + 1 items, exactly the row it stands for. A banded attention mask over one long sequence would not be
  exact: in a model of several layers the context items' own states would have read items beyond the cap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genrec.data.sequences import user_sequences
from genrec.errors import GenrecError
from genrec.prompts import ItemText, Template, recommendation_prompt
from genrec.sft.example import Example


def check_chaining(template: Template, where: str) -> None:
    """Refuse a `seq_rec` template whose rows do not chain (see the module's docstring)."""
    if template.instructions:
        raise GenrecError("sequence mode needs one fixed prompt per history, not one of several instructions",
                          key=where, fix="drop `instructions` from this template")
    if not template.response.startswith("{sid}"):
        raise GenrecError(f"sequence mode needs the response to start with the SID, not {template.response!r}",
                          key=where, fix="use response: \"{sid}\"")
    sids = [f"<a_{i}><b_{i}><c_{i}>" for i in range(4)]
    text = ItemText(sids, [""] * 4, [""] * 4, category="items")
    for k in (1, 2):
        row, following = row_text(template, text, range(k), k), row_text(template, text, range(k + 1), k + 1)
        if not following.startswith(row):
            raise GenrecError(f"sequence mode needs each row's prompt and response to begin the next row's prompt; "
                              f"this template gives {row!r}, then {following!r}", key=where,
                              fix="use a prompt that ends with {history} (e.g. prompt: \"{history}\", response: "
                                  "\"{sid}\", a `history_separator` if you want one), or sft.seq_rec_mode: row")


def row_text(template: Template, text: ItemText, history, target: int) -> str:
    """A row's prompt followed by its response."""
    prompt, response = template.render(np.random.default_rng(0), **text.fields(target),
                                       history=text.history_sids(history, template.history_separator))
    return prompt + response


def context_windows(items: list[int], first_target: int, rows: pd.DataFrame) -> list[tuple[int, list[int]]]:
    """(start, targets) per window: each target's prompt history (in `rows`, already cut to what prompts show)
    is items[start:target]; consecutive targets with the same start share a window."""
    windows: list[tuple[int, list[int]]] = []
    for k, history in enumerate(rows["history"]):
        target = first_target + k
        start = target - len(history)
        if start < 0 or [int(i) for i in history] != items[start:target]:
            raise GenrecError(f"user {rows['user_id'].iloc[0]}'s training row {k} has a history that is not the "
                              "items before its target in the user's sequence",
                              fix="the split should hold each user's rows in time order (re-run preprocess)")
        if windows and windows[-1][0] == start:
            windows[-1][1].append(target)
        else:
            windows.append((start, [target]))
    return windows


def sequence_examples(template: Template, text: ItemText, train: pd.DataFrame) -> list[Example]:
    """One example per window of `train`'s users (histories already cut to what prompts show): the prompt is
    the first target's, the response the rest of the window's text (every target's SID, and what the template
    writes between them)."""
    def prompt_of(history: list[int]) -> str:
        return recommendation_prompt({"seq_rec": template}, text, history)

    examples = []
    for sequence in user_sequences(train):
        items = sequence.items
        for start, targets in context_windows(items, sequence.first_target, sequence.rows):
            last = targets[-1]
            full = row_text(template, text, items[start:last], items[last])
            prompt = prompt_of(items[start:targets[0]])
            for target in targets:      # the invariant, row by row (string operations: cheap)
                row = prompt_of(items[start:target]) + text.sids[items[target]]
                if not full.startswith(row):
                    raise GenrecError(f"sequence example of user {sequence.user} does not hold row {target}'s "
                                      "prompt in front of its SID", fix="use sft.seq_rec_mode: row")
            examples.append(Example("seq_rec", prompt, full[len(prompt):], target=items[last],
                                    history=tuple(items[start:last]), targets=tuple(items[t] for t in targets)))
    return examples
