"""FDSA (Zhang et al., IJCAI 2019): two causal self-attention streams, one over the item sequence and one over
the sequence of the items' features, each feature vector the attention-weighted sum of the item's attribute
embeddings (the paper's vanilla attention); the two last states are concatenated and projected. Follows RecBole's
FDSA (RUCAIBox/RecBole @ 7b02be5, fdsa.py: shared position table, LayerNorm and dropout; post-LN blocks; the
output scored against the tied item table); the attention pools an item's attributes (brand, categories) one by
one, as the paper describes, rather than RecBole's fields."""

# no `from __future__ import annotations`: the hub mixin rebuilds the config dataclass from the real annotation

import torch
from torch import nn

from genrec.models.baselines.sequential import (SequentialRecommender, attention_mask, bert_encoder,
                                                 empty_attribute_table, init_bert_weights)
from genrec.models.baselines.settings import FDSAConfig


class FDSA(SequentialRecommender):
    def __init__(self, config: FDSAConfig):
        super().__init__()
        self.config = config
        d = config.hidden_size
        self.items = nn.Embedding(config.n_items + 1, d, padding_idx=0)
        self.attributes = nn.Embedding(config.n_attributes + 1, d, padding_idx=0)
        self.register_buffer("item_attributes", empty_attribute_table(config.n_items, config.attributes_per_item))
        self.positions = nn.Embedding(config.max_length, d)
        self.norm = nn.LayerNorm(d, eps=1e-12)
        self.dropout = nn.Dropout(config.dropout)
        self.feature_attention = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 1))
        self.item_encoder = bert_encoder(d, config.num_heads, config.intermediate_size, config.num_layers, config.dropout)
        self.feature_encoder = bert_encoder(d, config.num_heads, config.intermediate_size, config.num_layers,
                                            config.dropout)
        self.combine = nn.Linear(2 * d, d)
        init_bert_weights(self)

    def item_features(self, tokens: torch.Tensor) -> torch.Tensor:
        """batch x length x hidden: each item's attribute embeddings, weighted by a softmax over its attributes
        of a two-layer score (an item without attributes, or padding, gets zeros)."""
        attributes = self.item_attributes[tokens]                       # batch x length x A
        x = self.attributes(attributes)
        present = attributes > 0
        scores = self.feature_attention(x)[..., 0].masked_fill(~present, float("-inf"))
        weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)        # all-absent rows: no weight
        return (weights[..., None] * x).sum(-2)

    def encode(self, sequence: torch.Tensor, users: torch.Tensor | None = None,
               times: torch.Tensor | None = None) -> torch.Tensor:
        tokens = sequence + 1
        positions = self.positions.weight[-tokens.shape[1]:]           # counted back from the latest item
        mask = attention_mask(tokens, self.config.num_heads, causal=True)
        items = self.item_encoder(self.dropout(self.norm(self.items(tokens) + positions)), mask=mask)
        features = self.feature_encoder(self.dropout(self.norm(self.item_features(tokens) + positions)), mask=mask)
        return self.dropout(self.norm(self.combine(torch.cat([items, features], dim=-1))))
