"""SASRec (Kang & McAuley, 2018): causal self-attention over the item sequence with learned positions.

Scores every item with the dot product of the last position's state and the (shared) item embeddings,
trained with full softmax cross-entropy over all items at every position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class SASRecConfig:
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 2
    dropout: float = 0.2
    max_length: int = 50


class SASRec(nn.Module):
    """Item ids are shifted by one inside the model: 0 is padding."""

    def __init__(self, n_items: int, config: SASRecConfig = SASRecConfig()):
        super().__init__()
        self.n_items, self.config = n_items, config
        self.items = nn.Embedding(n_items + 1, config.hidden_size, padding_idx=0)
        self.positions = nn.Embedding(config.max_length, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        layer = nn.TransformerEncoderLayer(config.hidden_size, config.num_heads, config.hidden_size,
                                           config.dropout, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.hidden_size)
        nn.init.normal_(self.items.weight, std=0.02)
        nn.init.normal_(self.positions.weight, std=0.02)

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        """States of every position (batch x length x hidden) for left-padded item-id sequences (-1 = pad)."""
        tokens = sequence + 1
        length = tokens.shape[1]
        x = self.items(tokens) * self.config.hidden_size ** 0.5 + self.positions.weight[-length:]
        # a position sees itself and earlier real items; padding is never attended to (except by itself,
        # which keeps the softmax of an all-padding prefix defined)
        future = torch.ones(length, length, dtype=torch.bool, device=tokens.device).triu(1)
        blocked = future[None] | (tokens == 0)[:, None, :]
        blocked &= ~torch.eye(length, dtype=torch.bool, device=tokens.device)[None]
        mask = blocked.repeat_interleave(self.config.num_heads, dim=0)
        x = self.encoder(self.dropout(x), mask=mask)
        return self.norm(x)

    def scores(self, states: torch.Tensor) -> torch.Tensor:
        """Logits over all items (item i = column i)."""
        return states @ self.items.weight[1:].T


def training_sequences(train, max_length: int) -> list[list[int]]:
    """Each user's whole training sequence (the last training row's history + target), oldest first."""
    last = train.loc[train.groupby("user_id")["history"].apply(lambda h: h.map(len).idxmax())]
    return [(list(h) + [int(t)])[-(max_length + 1):] for h, t in zip(last["history"], last["target"])]


def left_pad(sequences: list[list[int]], length: int) -> torch.Tensor:
    out = torch.full((len(sequences), length), -1, dtype=torch.long)
    for row, seq in enumerate(sequences):
        seq = seq[-length:]
        if seq:
            out[row, length - len(seq):] = torch.tensor(seq)
    return out


@torch.no_grad()
def rank_all_items(model: SASRec, histories: list[list[int]], k: int, batch_size: int = 512) -> torch.Tensor:
    """Top-k item ids per history by full ranking over all items."""
    model.eval()
    top = []
    for start in range(0, len(histories), batch_size):
        batch = left_pad(histories[start:start + batch_size], model.config.max_length)
        top.append(model.scores(model(batch)[:, -1]).topk(k, dim=1).indices)
    return torch.cat(top)
