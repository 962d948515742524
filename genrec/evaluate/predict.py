"""Sharded prediction: every row of a split gets a ranked list of SIDs by constrained beam search.

Rows are sorted by prompt length and cut into fixed batches (little padding); shard s of n takes
batches s, s+n, s+2n, ... Batches are the same whatever the number of shards, so the merged predictions
-- and the metrics computed from them -- equal an unsharded run's exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from genrec.errors import GenrecError
from genrec.evaluate.beam_search import Assistant, beam_search
from genrec.evaluate.constrained import PAD, SIDTrie
from genrec.evaluate.scoring import TITLES_SHOWN
from genrec.evaluate.settings import EvalSettings
from genrec.precision import use_bf16
from genrec.progress import progress
from genrec.prompts import RECOMMENDATION_TASK, ItemText, Template, recommendation_prompt

log = logging.getLogger(__name__)


def check_split(split: pd.DataFrame, n_items: int, name: str) -> None:
    if len(split) == 0:
        raise GenrecError(f"the {name} split is empty: no row to evaluate", path=name)
    used = np.concatenate([split["target"].to_numpy(), *[np.asarray(h) for h in split["history"]]])
    if used.max() >= n_items or used.min() < 0:
        raise GenrecError(f"the {name} split uses item id {int(used.max())} but the index covers items 0..{n_items - 1}",
                          fix="rebuild the SID index from this dataset's items.parquet")


def evaluation_precision(precision: str, device: torch.device) -> str:
    """`bfloat16` or `float32` for evaluation: `auto` takes bf16 on a GPU only, so CPU numbers do not depend
    on whether the CPU happens to have native bf16."""
    if precision == "auto" and device.type != "cuda":
        return "float32"
    return "bfloat16" if use_bf16(precision, "evaluate.precision") else "float32"


def row_batches(prompt_lengths: list[int], batch_size: int) -> list[np.ndarray]:
    order = np.argsort(np.asarray(prompt_lengths), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def shard_of(batches: list[np.ndarray], shard: int, shards: int) -> list[np.ndarray]:
    if not 0 <= shard < shards:
        raise GenrecError(f"shard {shard} is outside 0..{shards - 1}")
    return batches[shard::shards]


def title_trie(tokenizer: PreTrainedTokenizerBase, titles: list[str], template: Template) -> SIDTrie:
    """The decoding trie of a title-generating model (D3): every item's response naming its title (e.g.
    '"Title"\\n') and EOS, tokenised as training tokenised responses. Items sharing a title share its leaf,
    ranked as one entry, each counted 1/G by the metrics (the tie rule of every title method)."""
    responses = tokenizer([template.title_response(t) for t in titles], add_special_tokens=False)["input_ids"]
    paths = [ids + [tokenizer.eos_token_id] for ids in responses]
    depth = max(len(p) for p in paths)
    return SIDTrie(np.array([p + [PAD] * (depth - len(p)) for p in paths], dtype=np.int64))


def predict_split(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, split: pd.DataFrame, text: ItemText,
                  templates: dict[str, Template], trie: SIDTrie, settings: EvalSettings, prompt_history: int,
                  shard: int = 0, shards: int = 1, naming: str = "sid",
                  assistant: tuple[Callable[[list[list[int]]], torch.Tensor], float] | None = None,
                  prompts: list[str] | None = None) -> list[dict]:
    """Prediction records of this shard's rows: ranked item names (SIDs, or titles for a model that `naming`
    says names items by title), their items, scores, titles.

    With `settings.mask_history` no name of an item in the row's history (the split's, not only the part the
    prompt shows) can be generated. `assistant` (a collaborative model's item scores of histories, guidance
    scale) is D3's text-free assistant, mixed into every step with the softmax of those scores. `prompts` (one a
    row) replace the recommendation prompts of the histories (a task that asks more than the history)."""
    histories = [list(h)[-prompt_history:] for h in split["history"]]
    task, names = RECOMMENDATION_TASK[naming], text.names(naming)
    if prompts is None:
        prompts = [recommendation_prompt(templates, text, h, task=task) for h in histories]
    lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]]
    batches = shard_of(row_batches(lengths, settings.batch_size), shard, shards)
    leaf_items = trie_groups(trie)
    users, targets = split["user_id"].to_numpy(), split["target"].to_numpy()
    seen = [list(h) for h in split["history"]]
    bf16 = evaluation_precision(settings.precision, model.device) == "bfloat16"
    records = []
    model.eval()
    for rows in progress(batches, desc=f"beam search (shard {shard + 1}/{shards})", unit="batch"):
        banned = history_leaves(trie, [seen[i] for i in rows]) if settings.mask_history else None
        helper = None
        if assistant is not None:
            scores, scale = assistant
            helper = Assistant(torch.softmax(scores([seen[i] for i in rows]), dim=-1).to(model.device), scale)
        with torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=bf16):
            beams = beam_search(model, tokenizer, [prompts[i] for i in rows], trie, settings.num_beams,
                                length_penalty=settings.length_penalty, banned=banned, assistant=helper)
        for row, leaves, scores in zip(rows, beams.leaves, beams.scores):
            valid = leaves >= 0
            items = [item for leaf in leaves[valid] for item in leaf_items[leaf]]
            target = int(targets[row])
            records.append({
                "row": int(row), "user_id": int(users[row]), "target": target, "target_sid": names[target],
                "sids": [names[leaf_items[leaf][0]] for leaf in leaves[valid]],
                "items": items, "scores": [round(float(s), 5) for s in scores[valid]],
                "invalid": int((~valid).sum()),
                "history": [int(i) for i in histories[row]], "target_title": text.titles[target],
                "titles": [text.titles[i] for i in items[:TITLES_SHOWN]],
            })
    return records


def history_leaves(trie: SIDTrie, histories: list[list[int]]) -> torch.Tensor:
    """rows x longest history: the trie leaf (distinct SID) of every history item, -1 padded. Where SIDs
    collide, banning an item's leaf bans the items that share its SID too."""
    width = max(1, max(len(h) for h in histories))
    items = torch.full((len(histories), width), -1, dtype=torch.long)
    for i, history in enumerate(histories):
        items[i, :len(history)] = torch.as_tensor(history, dtype=torch.long)
    leaves = trie.leaf_of_item.cpu()[items.clamp(min=0)]
    return torch.where(items >= 0, leaves, torch.full_like(leaves, -1)).to(trie.leaf_of_item.device)


def trie_groups(trie: SIDTrie) -> list[list[int]]:
    """Items of each leaf (distinct SID), in item-id order: more than one where SIDs collide."""
    groups: list[list[int]] = [[] for _ in range(trie.n_leaves)]
    for item, leaf in enumerate(trie.leaf_of_item.tolist()):
        groups[leaf].append(item)
    return groups
