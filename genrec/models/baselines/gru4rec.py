"""GRU4Rec (Hidasi et al., 2016; the full-softmax variant of Hidasi & Karatzoglou, 2018): a GRU over the
item sequence. Padding is packed away, so a history's state does not depend on how much padding it had."""

# no `from __future__ import annotations`: the hub mixin rebuilds the config dataclass from the real annotation

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from genrec.models.baselines.settings import GRU4RecConfig
from genrec.models.baselines.sequential import PAD, SequentialRecommender


class GRU4Rec(SequentialRecommender):
    def __init__(self, config: GRU4RecConfig):
        super().__init__()
        self.config = config
        self.items = nn.Embedding(config.n_items + 1, config.hidden_size, padding_idx=0)
        self.dropout = nn.Dropout(config.dropout)
        self.gru = nn.GRU(config.hidden_size, config.hidden_size, config.num_layers, batch_first=True,
                          dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.out = nn.Linear(config.hidden_size, config.hidden_size)
        nn.init.normal_(self.items.weight, std=0.02)

    def encode(self, sequence: torch.Tensor, users: torch.Tensor | None = None,
               times: torch.Tensor | None = None) -> torch.Tensor:
        length = sequence.shape[1]
        real = (sequence != PAD).sum(dim=1)
        # left-padded -> right-padded (pack_padded_sequence wants the items first), and back at the end
        shift = (length - real)[:, None]
        steps = torch.arange(length, device=sequence.device)[None]
        right = sequence.gather(1, (steps + shift) % length)
        x = self.dropout(self.items(right + 1))
        packed = pack_padded_sequence(x, real.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        states, _ = self.gru(packed)
        states, _ = pad_packed_sequence(states, batch_first=True, total_length=length)
        states = states.gather(1, ((steps - shift) % length)[..., None].expand_as(states))
        return self.out(self.dropout(states))
