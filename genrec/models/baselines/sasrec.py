"""SASRec (Kang & McAuley, 2018): causal self-attention over the item sequence with learned positions."""

# no `from __future__ import annotations`: the hub mixin rebuilds the config dataclass from the real annotation

import torch
from torch import nn

from genrec.models.baselines.settings import SASRecConfig
from genrec.models.baselines.sequential import SequentialRecommender, attention_mask


class SASRec(SequentialRecommender):
    def __init__(self, config: SASRecConfig):
        super().__init__()
        self.config = config
        self.items = nn.Embedding(config.n_items + 1, config.hidden_size, padding_idx=0)
        self.positions = nn.Embedding(config.max_length, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        layer = nn.TransformerEncoderLayer(config.hidden_size, config.num_heads, config.hidden_size,
                                           config.dropout, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.hidden_size)
        nn.init.normal_(self.items.weight, std=0.02)
        nn.init.normal_(self.positions.weight, std=0.02)

    def encode(self, sequence: torch.Tensor, users: torch.Tensor | None = None,
               times: torch.Tensor | None = None) -> torch.Tensor:
        tokens = sequence + 1
        length = tokens.shape[1]
        # positions count back from the latest item, so a history means the same whatever its padding
        x = self.items(tokens) * self.config.hidden_size ** 0.5 + self.positions.weight[-length:]
        x = self.encoder(self.dropout(x), mask=attention_mask(tokens, self.config.num_heads, causal=True))
        return self.norm(x)
