"""Caser (Tang & Wang, 2018): horizontal and vertical convolutions over the embeddings of the latest
`window` items. Every position of a sequence gets the state of its own window, so Caser trains on all
positions like the other models. Sequence-only by default (any history can be scored); `user_embedding` adds
the paper's user embedding beside the convolutional state."""

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
        # with the user embedding, the state is out([z; P_u]) (the paper's y = W'[z; P_u] + b', its W' factored
        # through the shared item table that every model here scores with); row 0 holds users unseen in training
        self.users = nn.Embedding(config.n_users + 1, d) if config.user_embedding else None
        self.out = nn.Linear(2 * d if config.user_embedding else d, d)
        nn.init.normal_(self.items.weight, std=0.02)

    def encode(self, sequence: torch.Tensor, users: torch.Tensor | None = None,
               times: torch.Tensor | None = None) -> torch.Tensor:
        batch, length = sequence.shape
        L = self.config.window
        tokens = F.pad(sequence + 1, (L - 1, 0))                       # pad id 0 before the first window
        windows = tokens.unfold(1, L, 1)                                # batch x length x L
        x = self.items(windows).flatten(0, 1)                           # (batch*length) x L x d
        # The convolutions as matrix products over the same Conv2d weights: a filter of height h spans the
        # full embedding width, so it is a linear map of h stacked rows. On CPU a training step is 2.5x
        # faster than with Conv2d, whose backward pass for one input channel took 70 % of a step
        # (measured on Beauty, batch 256).
        horizontal = [F.relu(F.linear(x.unfold(1, conv.kernel_size[0], 1).transpose(2, 3).flatten(2),
                                      conv.weight.flatten(1), conv.bias)).amax(dim=1)
                      for conv in self.horizontal]
        vertical = (torch.einsum("fl,nld->nfd", self.vertical.weight[:, 0, :, 0], x)
                    + self.vertical.bias[:, None]).flatten(1)
        z = F.relu(self.hidden(self.dropout(torch.cat([*horizontal, vertical], dim=1)))).view(batch, length, -1)
        if self.users is not None:
            user = self.user_vectors(users, self.users, self.config.n_users)[:, None].expand(-1, length, -1)
            z = torch.cat([z, user], dim=-1)
        return self.out(z)
