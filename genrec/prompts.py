"""What prompts say about items, shared by every stage that writes a prompt (SFT, RL, evaluation).

A prompt set (config `prompts.<set>`) holds templates per stage: `sft` names every task's template, and `rl` and
`evaluate` replace some of them for that stage (MiniOneRec's RL prompts drop the instruction preamble, and its
evaluation asks for the next item in other words than SFT did). A template is a `prompt` and a `response`
with placeholders {history}, {sid}, {title}, {description}, {category} and {instruction}; `history_separator`
joins the history's SIDs or quoted titles, and `instructions` lists the sentences {instruction} draws from, one
at random per example. `recommendation_prompt` is the `seq_rec` prompt of a stage: what SFT trains on and what
evaluation and RL decode from, so they cannot drift apart unless a set says they do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genrec.errors import GenrecError
from genrec.tokenize.index import format_sid

STAGES = ("sft", "rl", "evaluate")
# how a history is joined where the template does not say: SIDs back to back, quoted titles by a comma
SID_SEPARATOR, TITLE_SEPARATOR = "", ", "
# tasks whose prompt shows the history as titles
TITLE_HISTORY_TASKS = ("title_hist2sid", "title_hist2title")
# How a model names the item it recommends, and the task its recommendations are decoded from: a SID (MiniOneRec,
# LC-Rec, TIGER) or the item's title (BIGRec, D3, S-DPO, which train without a SID index).
RECOMMENDATION_TASK = {"sid": "seq_rec", "title": "title_hist2title"}


@dataclass(frozen=True)
class Template:
    """One task's prompt and response (config `prompts.<set>.<stage>.<name>`)."""

    prompt: str
    response: str
    history_separator: str | None = None      # None: SIDs back to back, titles by ", "
    instructions: tuple[str, ...] = ()        # {instruction} is one of these, drawn per example

    @classmethod
    def of(cls, entry: dict) -> Template:
        return cls(entry["prompt"], entry["response"], entry.get("history_separator"),
                   tuple(entry.get("instructions", ())))

    def render(self, rng: np.random.Generator, **fields: str) -> tuple[str, str]:
        """(prompt, response) of one example."""
        fields = self._with_instruction(rng, fields)
        return self._format(self.prompt, fields), self._format(self.response, fields)

    def response_tail(self) -> str:
        """The response's text after the SID (what a model trained on it writes before EOS), e.g. "\\n"."""
        head, sid, tail = self.response.partition("{sid}")
        if not sid or "{" in tail:
            raise GenrecError(f"response {self.response!r} does not end with {{sid}} and plain text",
                              fix="a template decoded as a SID needs a response like \"{sid}\" or \"{sid}\\n\"")
        return tail

    def title_response(self, title: str) -> str:
        """The response naming an item by `title` (a title-generating model's answer, e.g. '"Title"\\n')."""
        if "{title}" not in self.response or "{" in self.response.replace("{title}", ""):
            raise GenrecError(f"response {self.response!r} is not a title and plain text",
                              fix="a template decoded as a title needs a response like '\"{title}\"\\n'")
        return self.response.replace("{title}", title)

    def render_prompt(self, rng: np.random.Generator, **fields: str) -> str:
        """The prompt alone (what decoding starts from: the response is what the model writes)."""
        return self._format(self.prompt, self._with_instruction(rng, fields))

    def _with_instruction(self, rng: np.random.Generator, fields: dict) -> dict:
        if not self.instructions:
            return fields
        return fields | {"instruction": self._format(self.instructions[rng.integers(len(self.instructions))], fields)}

    @staticmethod
    def _format(text: str, fields: dict) -> str:
        try:
            return text.format(**fields)
        except KeyError as missing:
            raise GenrecError(f"a prompt template uses the placeholder {{{missing.args[0]}}}, which has no value here",
                              fix="{category} comes from the dataset's `prompt_category` (config/datasets.yaml); "
                                  "{instruction} needs the template's `instructions`; otherwise use {history}, "
                                  "{sid}, {title} or {description}") from None


def stage_templates(prompt_set: dict, stage: str, where: str = "prompts") -> dict[str, Template]:
    """The templates one stage reads: the set's `sft` templates, with the stage's own in their place."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    if "sft" not in prompt_set:
        raise GenrecError("a prompt set needs its `sft` templates (templates are grouped by stage since genrec "
                          "0.9; a checkpoint trained earlier records them ungrouped)", key=where,
                          fix="put the set's templates under `sft:`, or re-run the training rule of the checkpoint")
    entries = {**prompt_set["sft"], **(prompt_set.get(stage) or {} if stage != "sft" else {})}
    return {name: Template.of(entry) for name, entry in entries.items()}


@dataclass(frozen=True)
class ItemText:
    """What the templates can say about items: SID string, title and description by item id, and what the
    dataset's items are called ({category}, MiniOneRec's `category_dict`)."""

    sids: list[str]
    titles: list[str]
    descriptions: list[str]
    category: str | None = None

    @classmethod
    def build(cls, items: pd.DataFrame, index: dict[int, list[str]] | None, category: str | None = None,
              max_description_chars: int | None = 300) -> ItemText:
        """With `index` None (a title method trains without SIDs) every item's SID is empty."""
        titles = items["title"].fillna("").astype(str).str.strip().tolist()
        descriptions = items["description"].fillna("").astype(str).str.strip()
        if max_description_chars is not None:
            descriptions = descriptions.str.slice(0, max_description_chars)
        sids = [format_sid(index[i]) if index is not None else "" for i in range(len(items))]
        return cls(sids, titles, descriptions.tolist(), category)

    def names(self, naming: str) -> list[str]:
        """Each item's name as a model of that `naming` (RECOMMENDATION_TASK's keys) writes it: SID or title."""
        return self.sids if naming == "sid" else self.titles

    def history_sids(self, history: list[int] | np.ndarray, separator: str | None = None) -> str:
        return (SID_SEPARATOR if separator is None else separator).join(self.sids[i] for i in history)

    def history_titles(self, history: list[int] | np.ndarray, separator: str | None = None) -> str:
        return (TITLE_SEPARATOR if separator is None else separator).join(f'"{self.titles[i]}"' for i in history)

    def fields(self, item: int) -> dict[str, str]:
        """The placeholders an item fills ({category} only where the dataset names its items)."""
        out = {"sid": self.sids[item], "title": self.titles[item], "description": self.descriptions[item]}
        return out | ({"category": self.category} if self.category is not None else {})


def recommendation_prompt(templates: dict[str, Template], text: ItemText, history: list[int] | np.ndarray,
                          rng: np.random.Generator | None = None, task: str = "seq_rec") -> str:
    """The recommendation prompt for a history, from one stage's templates (`stage_templates`): `seq_rec`'s, or
    the title methods' `title_hist2title` (RECOMMENDATION_TASK)."""
    template = templates[task]
    shown = text.history_titles if task in TITLE_HISTORY_TASKS else text.history_sids
    fields = {"history": shown(history, template.history_separator)}
    fields |= {"category": text.category} if text.category is not None else {}
    return template.render_prompt(rng or np.random.default_rng(0), **fields)
