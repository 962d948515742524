"""S3-Rec (Zhou et al., CIKM 2020): SASRec's item encoder (post-LN BERT blocks, as its code) pre-trained by four
self-supervised objectives over items and their attributes, then fine-tuned for next-item prediction like SASRec.
Follows aHuiWang/CIKM2020-S3Rec @ 49a890d (models.py S3RecModel, datasets.py PretrainDataset):

- associated attribute prediction (AAP): from each unmasked item's state, its attributes;
- masked item prediction (MIP): from a masked position's state, its item against one sampled negative;
- masked attribute prediction (MAP): from a masked position's state, the masked item's attributes;
- segment prediction (SP): from a sequence with a segment masked, that segment against another user's.

Pre-training attends both ways (padding masked); fine-tuning is causal and reads no attribute. MIP and SP score
sigmoid(sigmoid(s+) - sigmoid(s-)) as the released code does (a sigmoid twice), and every loss is summed over the
batch, as there."""

# no `from __future__ import annotations`: the hub mixin rebuilds the config dataclass from the real annotation

import torch
from torch import nn
from torch.nn import functional as F

from genrec.models.baselines.sequential import (SequentialRecommender, attention_mask, bert_encoder,
                                                 empty_attribute_table, encode_in_length_groups, init_bert_weights)
from genrec.models.baselines.settings import S3RecConfig


class S3Rec(SequentialRecommender):
    def __init__(self, config: S3RecConfig):
        super().__init__()
        self.config = config
        d = config.hidden_size
        self.mask_token = config.n_items + 1              # row of [mask] (row 0 = padding, rows 1..n = items)
        self.items = nn.Embedding(config.n_items + 2, d, padding_idx=0)
        self.attributes = nn.Embedding(config.n_attributes + 1, d, padding_idx=0)
        self.register_buffer("item_attributes", empty_attribute_table(config.n_items, config.attributes_per_item))
        self.positions = nn.Embedding(config.max_length, d)
        self.norm = nn.LayerNorm(d, eps=1e-12)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder = bert_encoder(d, config.num_heads, config.intermediate_size, config.num_layers, config.dropout)
        # the four objectives' projections (aap_norm, mip_norm, map_norm, sp_norm)
        self.aap, self.mip, self.map, self.sp = (nn.Linear(d, d) for _ in range(4))
        init_bert_weights(self)

    def target_table(self) -> torch.Tensor:
        return self.items.weight[:-1]                      # the items, not [mask]

    def hidden_states(self, tokens: torch.Tensor, causal: bool) -> torch.Tensor:
        """Encoder output for shifted token ids (0 = padding, `mask_token` = [mask])."""
        x = self.items(tokens) + self.positions.weight[-tokens.shape[1]:]   # positions count back from the end
        return self.encoder(self.dropout(self.norm(x)), mask=attention_mask(tokens, self.config.num_heads, causal))

    def encode(self, sequence: torch.Tensor, users: torch.Tensor | None = None,
               times: torch.Tensor | None = None) -> torch.Tensor:
        return self.hidden_states(sequence + 1, causal=True)

    def attribute_targets(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens' shape x (n_attributes + 1): each item's attributes, multi-hot (padding and [mask]: none)."""
        ids = self.item_attributes[tokens.clamp(max=self.config.n_items)]          # [mask] reads no row of its own
        ids = ids.masked_fill((tokens == self.mask_token)[..., None], 0)
        hot = torch.zeros(*tokens.shape, self.config.n_attributes + 1, device=tokens.device)
        hot.scatter_(-1, ids, 1.0)
        hot[..., 0] = 0.0
        return hot

    def pretraining_losses(self, items: torch.Tensor, masked: torch.Tensor, negatives: torch.Tensor,
                           segment: torch.Tensor, positive_segment: torch.Tensor,
                           negative_segment: torch.Tensor, length_groups: int = 1) -> dict[str, torch.Tensor]:
        """The four objectives' summed losses for a batch of pre-training instances, all shifted token ids
        (0 = padding) of one width: the sequences (`items`), the same with items masked (`masked`), a negative
        item at each masked position (`negatives`), and for SP the sequence with a segment masked, the segment
        alone and another user's segment (the rest [mask]). Each encoding takes the rows in `length_groups`
        groups of similar length (`encode_in_length_groups`: the same states, less padding encoded)."""
        def encode(tokens: torch.Tensor) -> torch.Tensor:
            return encode_in_length_groups(lambda t, *_: self.hidden_states(t, causal=False), tokens, tokens > 0,
                                           None, length_groups)

        states = encode(masked)
        is_masked = masked == self.mask_token
        unmasked = (masked != 0) & ~is_masked

        def attribute_loss(projection: nn.Linear, where: torch.Tensor) -> torch.Tensor:
            # scored only where it counts (padding is most of a batch): the logits over every attribute are most
            # of a step's work
            logits = projection(states[where]) @ self.attributes.weight.T
            return F.binary_cross_entropy_with_logits(logits, self.attribute_targets(items[where]), reduction="sum")

        def paired_loss(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
            return F.softplus(-(torch.sigmoid(positive) - torch.sigmoid(negative)))   # -log sigmoid(...)

        projected = self.mip(states[is_masked])
        mip = paired_loss((projected * self.items(items[is_masked])).sum(-1),
                          (projected * self.items(negatives[is_masked])).sum(-1))
        context = self.sp(encode(segment)[:, -1])
        positive = encode(positive_segment)[:, -1]
        negative = encode(negative_segment)[:, -1]
        return {"aap": attribute_loss(self.aap, unmasked), "mip": mip.sum(),
                "map": attribute_loss(self.map, is_masked),
                "sp": paired_loss((context * positive).sum(-1), (context * negative).sum(-1)).sum()}
