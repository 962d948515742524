"""HGN (Ma, Kang & Liu, KDD 2019): hierarchical gating over the latest `window` items. Feature gating scales
each item embedding's dimensions by a sigmoid of the item and the user; instance gating weighs each gated item
by a sigmoid of it and the user's position weights; the weighted mean is the sequence's representation. A
candidate j scores (u + s + sum of the window's item embeddings) . w2_j + b2_j, the last term the paper's
item-item product. Every position of a sequence gets the state of its own window, as Caser's do, so HGN trains
on all positions like the other causal models. Follows allenjack/HGN @ 8db86c1 (model/gating_network.py), with
its two instance-gate weights trained (the released code builds them as plain tensors, so its optimiser never
updates them; `frozen_instance_gates` keeps that, and `targets` with the `bpr` loss its training on the next T
items, to measure what the released recipe changes; docs/fidelity.md)."""

# no `from __future__ import annotations`: the hub mixin rebuilds the config dataclass from the real annotation

import torch
from torch import nn
from torch.nn import functional as F

from genrec.models.baselines.sequential import SequentialRecommender
from genrec.models.baselines.settings import HGNConfig


class HGN(SequentialRecommender):
    def __init__(self, config: HGNConfig):
        super().__init__()
        self.config = config
        d, L = config.hidden_size, config.window
        self.items = nn.Embedding(config.n_items + 1, d, padding_idx=0)
        self.feature_gate_item = nn.Linear(d, d)
        self.instance_gate_item = self.instance_gate(torch.empty(d, 1))
        # the candidate side: W2 and b2, a table of its own (the paper's Q and b)
        self.targets = nn.Embedding(config.n_items + 1, d, padding_idx=0)
        self.bias = nn.Embedding(config.n_items + 1, 1, padding_idx=0)
        # row 0 holds users unseen in training
        self.users = nn.Embedding(config.n_users + 1, d) if config.user_embedding else None
        self.feature_gate_user = nn.Linear(d, d) if config.user_embedding else None
        self.instance_gate_user = self.instance_gate(torch.empty(d, L)) if config.user_embedding else None
        # the released initialisation: embeddings N(0, 1/d), gates Xavier, b2 zero
        for table in (self.items, self.targets) + ((self.users,) if self.users is not None else ()):
            nn.init.normal_(table.weight, std=1.0 / d)
        with torch.no_grad():
            self.items.weight[0].zero_()
            self.targets.weight[0].zero_()
        nn.init.zeros_(self.bias.weight)
        for gate in (self.instance_gate_item, self.instance_gate_user):
            if gate is not None:
                nn.init.xavier_uniform_(gate)

    def instance_gate(self, weight: torch.Tensor) -> nn.Parameter | torch.Tensor:
        """A trained weight, or with `frozen_instance_gates` a buffer that keeps its initial draw (as released)."""
        if self.config.frozen_instance_gates:
            return nn.Buffer(weight)
        return nn.Parameter(weight)

    def horizon(self) -> int:
        return self.config.targets

    def target_table(self) -> torch.Tensor:
        return self.targets.weight

    def target_bias(self) -> torch.Tensor:
        return self.bias.weight[:, 0]

    def encode(self, sequence: torch.Tensor, users: torch.Tensor | None = None,
               times: torch.Tensor | None = None) -> torch.Tensor:
        L = self.config.window
        windows = F.pad(sequence + 1, (L - 1, 0)).unfold(1, L, 1)            # batch x length x L, pad id 0
        real = (windows > 0).float()
        x = self.items(windows)                                              # batch x length x L x d
        feature_gate = self.feature_gate_item(x)
        instance_gate = 0.0
        if self.users is not None:
            user = self.user_vectors(users, self.users, self.config.n_users)  # batch x d
            feature_gate = feature_gate + self.feature_gate_user(user)[:, None, None]
            instance_gate = instance_gate + (user @ self.instance_gate_user)[:, None]   # a weight per window slot
        gated = x * torch.sigmoid(feature_gate)
        instance = torch.sigmoid((gated @ self.instance_gate_item)[..., 0] + instance_gate) * real
        # the mean of the gated items, weighted by their instance gates (padding slots weigh 0)
        union = (gated * instance[..., None]).sum(2) / instance.sum(2, keepdim=True).clamp(min=1e-8)
        state = union + x.sum(2)                                              # + the item-item product's sum
        if self.users is not None:
            state = state + user[:, None]
        return state
