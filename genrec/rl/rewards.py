"""The rewards of recommendation-oriented GRPO, as plain functions of a group of candidate items.

A rollout gives each prompt a group of `G` candidate items (the beams of the constrained beam search, best
first). Every reward scores one candidate against the prompt's target item:

- `rule`: 1 if the candidate is the target, else 0.
- `ranking` (MiniOneRec's default): `rule` plus a rank-aware penalty for the wrong candidates of groups that
  contain the target: the candidate at beam rank r gets -1/log2(r + 2), the G weights normalised to sum -1
  (MiniOneRec's `ndcg_rule_reward`; the target's own rank gets no penalty). A group that misses the target
  gets 0 everywhere: nothing in it says which way to move.
- `semantic`: cosine similarity of the candidate's and the target's item embeddings.
- `cf`: the collaborative score of the candidate for the user's history: the probability the SASRec model
  of the baselines stage gives it among all items. Prompts without a history (title -> SID) get no cf score.

`trl_reward_functions` adapts them to TRL's reward-function signature.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from genrec.errors import GenrecError
from genrec.rl.settings import REWARDS



def rule_reward(candidates: Sequence[int], targets: Sequence[int]) -> list[float]:
    return [float(c == t) for c, t in zip(candidates, targets)]


def rank_penalties(group_size: int) -> np.ndarray:
    """-1/log2(r + 2) for ranks r = 0..G-1, normalised to sum -1."""
    weights = np.array([1.0 / math.log2(r + 2) for r in range(group_size)])
    return -weights / weights.sum()


def ranking_reward(candidates: Sequence[int], targets: Sequence[int], ranks: Sequence[int],
                   groups: Sequence[Sequence[int]]) -> list[float]:
    """`rule` + the rank-aware penalty of wrong candidates in groups that contain the target.

    `ranks[i]` is candidate i's rank in its group, `groups[i]` all the group's candidates (best first).
    """
    out = []
    for candidate, target, rank, group in zip(candidates, targets, ranks, groups):
        if candidate == target:
            out.append(1.0)
        elif target in group:
            out.append(float(rank_penalties(len(group))[rank]))
        else:
            out.append(0.0)
    return out


def semantic_reward(candidates: Sequence[int], targets: Sequence[int], embeddings: np.ndarray) -> list[float]:
    """Cosine similarity of candidate and target embeddings (rows = item ids)."""
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    return [float(unit[c] @ unit[t]) for c, t in zip(candidates, targets)]


def cf_reward(candidates: Sequence[int], histories: Sequence[Sequence[int]], scorer) -> list[float | None]:
    """SASRec's probability of each candidate as the next item of its history (None: no history to score)."""
    from genrec.models.baselines.sequential import left_pad, trim_padding

    out: list[float | None] = [None] * len(candidates)
    rows = [i for i, h in enumerate(histories) if len(h)]
    if not rows:
        return out
    scorer.eval()
    with torch.no_grad():
        batch = trim_padding(left_pad([list(histories[i]) for i in rows], scorer.config.max_length))
        probabilities = torch.softmax(scorer.scores(scorer.encode(batch)[:, -1]).float(), dim=-1)
    for row, i in enumerate(rows):
        out[i] = float(probabilities[row, candidates[i]])
    return out


def group_hit(targets: Sequence[int], groups: Sequence[Sequence[int]]) -> list[float]:
    """1 where the candidate's group contains the target: averaged, the fraction of groups with a hit."""
    return [float(t in g) for t, g in zip(targets, groups)]


def trl_reward_functions(reward: str, embeddings: np.ndarray | None = None, scorer=None) -> list[Callable]:
    """TRL reward functions for `reward`: the reward itself, then `group_hit`, which the trainer weighs 0 -- it
    only logs the fraction of groups with a hit (GRPO learns nothing from a group without one under
    `rule`/`ranking`, so it is the first thing to look at when RL does not help).

    TRL calls each with the completions and, as keyword lists, the dataset's columns (`target`, `history`)
    and the rollout's extra fields (`item`, `rank`, `group`).
    """
    if reward not in REWARDS:
        raise GenrecError(f"unknown reward '{reward}'", key="rl.rewards", fix=f"use one of {list(REWARDS)}")
    if reward == "semantic" and embeddings is None:
        raise GenrecError("the semantic reward needs item embeddings", fix="pass the embedding stage's .npy")
    if reward == "cf" and scorer is None:
        raise GenrecError("the cf reward needs the SASRec model of the baselines stage",
                          fix="train it first (rule train_baseline, baseline sasrec)")

    def rule(completions, item, target, **_):
        return rule_reward(item, target)

    def ranking(completions, item, target, rank, group, **_):
        return ranking_reward(item, target, rank, group)

    def semantic(completions, item, target, **_):
        return semantic_reward(item, target, embeddings)

    def cf(completions, item, history, **_):
        return cf_reward(item, history, scorer)

    def hit(completions, target, group, decoded_hit=None, **_):
        # the decoder's own hits: a target that `rl.include_target` put into the group is not one
        return list(decoded_hit) if decoded_hit is not None else group_hit(target, group)

    hit.__name__ = "group_hit"
    return [{"rule": rule, "ranking": ranking, "semantic": semantic, "cf": cf}[reward], hit]
