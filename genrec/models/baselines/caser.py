"""Caser (Tang & Wang, 2018): horizontal and vertical convolutions over the embeddings of the latest
`window` items. Every position of a sequence gets the state of its own window, so Caser trains on all
positions like the other models. Sequence-only: no user embedding, so any history can be scored."""

# no `from __future__ import annotations`: the hub mixin rebuilds the config dataclass from the real annotation

import torch
from torch import nn
from torch.nn import functional as F

from genrec.models.baselines.settings import CaserConfig
from genrec.models.baselines.sequential import SequentialRecommender


class Caser(SequentialRecommender):
    def __init__(self, config: CaserConfig):
        super().__init__()
        self.config = config
        d, L = config.hidden_size, config.window
        self.items = nn.Embedding(config.n_items + 1, d, padding_idx=0)
        self.horizontal = nn.ModuleList(nn.Conv2d(1, config.horizontal_filters, (h, d)) for h in range(1, L + 1))
        self.vertical = nn.Conv2d(1, config.vertical_filters, (L, 1))
        self.dropout = nn.Dropout(config.dropout)
        self.hidden = nn.Linear(config.horizontal_filters * L + config.vertical_filters * d, d)
        self.out = nn.Linear(d, d)
        nn.init.normal_(self.items.weight, std=0.02)

    def encode(self, sequence: torch.Tensor) -> torch.Tensor:
        batch, length = sequence.shape
        L = self.config.window
        tokens = F.pad(sequence + 1, (L - 1, 0))                       # pad id 0 before the first window
        windows = tokens.unfold(1, L, 1)                                # batch x length x L
        x = self.items(windows).flatten(0, 1)[:, None]                  # (batch*length) x 1 x L x d
        horizontal = [F.relu(conv(x).squeeze(3)).amax(dim=2) for conv in self.horizontal]
        vertical = self.vertical(x).flatten(1)
        z = F.relu(self.hidden(self.dropout(torch.cat([*horizontal, vertical], dim=1))))
        return self.out(z).view(batch, length, -1)
