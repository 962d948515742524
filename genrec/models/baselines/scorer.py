"""The trained SASRec of the baselines stage as a scorer for the LLM methods: every item's score after each history,
for D3's text-free assistant, BIGRec's `cf` adjustment and RL's cf reward."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from genrec.errors import GenrecError


def load_scorer(path: str | Path | None, needed_by: str):
    """The SASRec model of the baselines stage, which `needed_by` (the cf reward, D3's assistant, ...) reads."""
    from genrec.models.baselines.registry import load_model  # the registry imports every model file

    if path is None or not Path(path).is_dir():
        raise GenrecError(f"{needed_by} needs a trained SASRec model; none at {path}",
                          fix="train it first: snakemake results/models/{dataset}/baselines/sasrec")
    return load_model("sasrec", str(path))


def history_scores(scorer) -> Callable[[list[list[int]]], torch.Tensor]:
    """A function of histories -> rows x items: the model's score (logit) of every item as the next one; its
    latest `max_length` items are what it reads."""
    from genrec.models.baselines.sequential import left_pad, trim_padding

    @torch.no_grad()
    def scores(histories: list[list[int]]) -> torch.Tensor:
        scorer.eval()
        batch = trim_padding(left_pad(histories, scorer.config.max_length))
        return scorer.scores(scorer.encode(batch)[:, -1]).float().cpu()

    return scores
