"""What prompts say about items, shared by every stage that writes a prompt (SFT, RL, evaluation).

`ItemText` holds each item's SID string, title and description; templates come from config
(`prompts.<set>.<template>`, placeholders {history}, {sid}, {title}, {description}). `recommendation_prompt`
is the `seq_rec` prompt: what SFT trains on and what evaluation and RL decode from, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genrec.tokenize.index import format_sid


@dataclass(frozen=True)
class ItemText:
    """What the templates can say about items: SID string, title and description by item id."""

    sids: list[str]
    titles: list[str]
    descriptions: list[str]
    title_separator: str = ", "

    @classmethod
    def build(cls, items: pd.DataFrame, index: dict[int, list[str]], max_description_chars: int = 300) -> ItemText:
        titles = items["title"].fillna("").astype(str).str.strip().tolist()
        descriptions = items["description"].fillna("").astype(str).str.strip().str.slice(0, max_description_chars).tolist()
        return cls([format_sid(index[i]) for i in range(len(items))], titles, descriptions)

    def history_sids(self, history: list[int] | np.ndarray) -> str:
        return "".join(self.sids[i] for i in history)

    def history_titles(self, history: list[int] | np.ndarray) -> str:
        return self.title_separator.join(f'"{self.titles[i]}"' for i in history)


def render(template: dict, **fields) -> tuple[str, str]:
    return template["prompt"].format(**fields), template["response"].format(**fields)


def recommendation_prompt(templates: dict, text: ItemText, history: list[int] | np.ndarray) -> str:
    """The `seq_rec` prompt for a history: what SFT trains on and what evaluation decodes from."""
    return templates["seq_rec"]["prompt"].format(history=text.history_sids(history))
