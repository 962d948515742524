"""ETEGRec's two alignment losses (Liu et al., SIGIR 2025, §3.3; BishopLiu/ETEGRec @ 58d9736, trainer.py:163-190).

- Sequence-item alignment (SIA): the recommender's encoder summarises the history (mean-pooled, through an
  adapter); the tokenizer's residual quantiser turns that summary into a distribution over each level's codes,
  and it must match the distribution the tokenizer gives the target item. Symmetric KL, averaged over levels
  and items.
- Preference-semantic alignment (PSA): the decoder's first hidden state (the one that predicts the first code)
  must pick out its target's reconstructed embedding among the batch's, and the reverse: symmetric InfoNCE on
  cosine similarity at temperature 0.07.

Both are computed on the batch's distinct targets only, as the code does (`np.unique(..., return_index=True)`).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def code_distributions(residuals: list[torch.Tensor], codebooks: list[torch.Tensor],
                       sign: float = -1.0) -> torch.Tensor:
    """Per level, log P(code k | residual) = log_softmax(sign * ||r - e_k||^2) -> (items, levels, K).

    sign -1 is the paper's Eq. 6 (near codes likely); the released code uses +1 (`vq.py:205` returns the
    distance itself as the logit), which docs/fidelity.md names."""
    logits = [sign * torch.cdist(r, c) ** 2 for r, c in zip(residuals, codebooks)]
    return F.log_softmax(torch.stack(logits, dim=1), dim=-1)


def sequence_item_alignment(sequence_log_probs: torch.Tensor, item_log_probs: torch.Tensor) -> torch.Tensor:
    """KL(P_item || P_seq) + KL(P_seq || P_item), summed over codes, averaged over items and levels
    (`F.kl_div(..., reduction='batchmean', log_target=True)` over items x levels rows)."""
    seq = sequence_log_probs.reshape(-1, sequence_log_probs.shape[-1])
    item = item_log_probs.reshape(-1, item_log_probs.shape[-1])
    return (F.kl_div(seq, item, reduction="batchmean", log_target=True)
            + F.kl_div(item, seq, reduction="batchmean", log_target=True))


def preference_semantic_alignment(decoder_first: torch.Tensor, reconstructed: torch.Tensor,
                                  temperature: float = 0.07) -> torch.Tensor:
    """Symmetric in-batch InfoNCE between the decoder's first hidden state (adapted to the item space) and each
    target's reconstructed embedding, cosine similarity over `temperature`."""
    q, k = F.normalize(decoder_first, dim=-1), F.normalize(reconstructed, dim=-1)
    labels = torch.arange(len(q), device=q.device)
    return F.cross_entropy(q @ k.T / temperature, labels) + F.cross_entropy(k @ q.T / temperature, labels)


def distinct_targets(targets: torch.Tensor) -> torch.Tensor:
    """Positions of each distinct target's first occurrence in the batch (the code's `np.unique` first index)."""
    order = torch.argsort(targets, stable=True)
    ordered = targets[order]
    first = torch.ones_like(ordered, dtype=torch.bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return torch.sort(order[first]).values
