"""BERT4Rec (Sun et al., CIKM 2019): a bidirectional transformer over the item sequence trained by the cloze
task: a share of each training sequence's items is replaced by a [mask] token and predicted from both sides.
At ranking time a [mask] is appended after the history and its output is the state that ranks the next item.
Follows RecBole's BERT4Rec (RUCAIBox/RecBole @ 7b02be5, the implementation ETEGRec ran) with the original's
prediction head (FeiSun/BERT4Rec: dense + GELU + LayerNorm, scored against the tied item table plus a bias)."""

# no `from __future__ import annotations`: the hub mixin rebuilds the config dataclass from the real annotation

import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from genrec.models.baselines.sequential import (PAD, SequentialRecommender, TrainingExamples, attention_mask,
                                                 bert_encoder, encode_in_length_groups, init_bert_weights,
                                                 sample_negatives, sampled_loss, training_sequences)
from genrec.models.baselines.settings import BERT4RecConfig


class BERT4Rec(SequentialRecommender):
    causal = False

    def __init__(self, config: BERT4RecConfig):
        super().__init__()
        self.config = config
        d = config.hidden_size
        self.mask_token = config.n_items + 1              # row of [mask] (row 0 = padding, rows 1..n = items)
        self.items = nn.Embedding(config.n_items + 2, d, padding_idx=0)
        self.positions = nn.Embedding(config.max_length, d)
        self.norm = nn.LayerNorm(d, eps=1e-12)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder = bert_encoder(d, config.num_heads, config.intermediate_size, config.num_layers, config.dropout)
        self.head = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d, eps=1e-12))
        self.bias = nn.Parameter(torch.zeros(config.n_items + 1))
        init_bert_weights(self)

    def target_table(self) -> torch.Tensor:
        return self.items.weight[:-1]                      # the items, not [mask]

    def target_bias(self) -> torch.Tensor:
        return self.bias

    def hidden_states(self, tokens: torch.Tensor) -> torch.Tensor:
        """The head's output at every position of shifted token ids (0 = padding), attending both ways to every
        non-padding position."""
        x = self.items(tokens) + self.positions.weight[-tokens.shape[1]:]   # positions count back from the end
        x = self.encoder(self.dropout(self.norm(x)), mask=attention_mask(tokens, self.config.num_heads, causal=False))
        return self.head(x)

    def encode(self, sequence: torch.Tensor, users: torch.Tensor | None = None,
               times: torch.Tensor | None = None) -> torch.Tensor:
        return self.hidden_states(self.with_mask_appended(sequence))[:, -sequence.shape[1]:]

    def encode_grouped(self, sequence: torch.Tensor, users: torch.Tensor | None, groups: int,
                       times: torch.Tensor | None = None) -> torch.Tensor:
        tokens = self.with_mask_appended(sequence)
        states = encode_in_length_groups(lambda t, *_: self.hidden_states(t), tokens, tokens > 0, None, groups)
        return states[:, -sequence.shape[1]:]

    def with_mask_appended(self, sequence: torch.Tensor) -> torch.Tensor:
        """Shifted token ids with the [mask] appended after each history as the last position (the oldest item
        gives way to it when the history fills every position)."""
        mask = torch.full((len(sequence), 1), self.mask_token, dtype=torch.long, device=sequence.device)
        return torch.cat([sequence + 1, mask], dim=1)[:, -self.config.max_length:]

    def training_examples(self, train: pd.DataFrame, max_length: int) -> TrainingExamples:
        return training_sequences(train, max_length)     # whole windows: the cloze task masks inside them

    def training_loss(self, sequence: torch.Tensor, loss: str, users: torch.Tensor | None = None,
                      generator: torch.Generator | None = None, length_groups: int = 1,
                      times: torch.Tensor | None = None) -> torch.Tensor:
        """The cloze loss: each item of a window (its latest `max_length`) is masked with probability
        `mask_ratio` and predicted, over all items (softmax) or against one sampled negative (sampled_bce, bpr). With
        probability `last_item_ratio` a batch masks only each window's last item instead, the task ranking
        poses (RecBole's `ft_ratio`; the original adds one such copy of every window)."""
        sequence = sequence[:, -self.config.max_length:]
        real = sequence != PAD
        if torch.rand((), generator=generator) < self.config.last_item_ratio:
            masked = torch.zeros_like(real)
            masked[:, -1] = True                          # left-padded: the last column is every window's latest
        else:
            masked = (torch.rand(sequence.shape, generator=generator) < self.config.mask_ratio) & real
            masked[:, -1] |= ~masked.any(dim=1)           # at least one per window, as the original's max(1, ...)
        tokens = torch.where(masked, self.mask_token, sequence + 1)
        states = encode_in_length_groups(lambda t, *_: self.hidden_states(t), tokens, tokens > 0, None,
                                         length_groups)[masked]
        targets = sequence[masked]
        if loss == "softmax":
            return F.cross_entropy(self.scores(states), targets)
        negatives = sample_negatives(sequence, self.config.n_items, generator)[masked]
        return sampled_loss(self.target_scores(states, targets), self.target_scores(states, negatives), loss)
