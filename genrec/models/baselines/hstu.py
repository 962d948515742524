"""HSTU (Zhai et al., ICML 2024, "Actions Speak Louder than Words"): a stack of sequential transduction units.
Each unit projects the normalised input to U, V, Q, K through one SiLU; attention is pointwise, SiLU(QK^T + rab)
scaled by a constant and masked causally, with no softmax; the attended values are normalised, gated by U and
projected back onto the residual stream. The relative attention bias `rab` is learned per unit over the distance
between positions and, where the data has timestamps, over the bucketed time from each key's interaction to the
query's next one (the time the next item is asked for). The state is L2-normalised and scores items by cosine over a temperature, as the authors' code
does for its public datasets. Follows facebookresearch/generative-recommenders @ 2e81fab (research/modeling/
sequential/hstu.py, input_features_preprocessors.py, output_postprocessors.py); what differs is in
docs/fidelity.md."""

# no `from __future__ import annotations`: the hub mixin rebuilds the config dataclass from the real annotation

import torch
from torch import nn
from torch.nn import functional as F

from genrec.models.baselines.sequential import PAD, SequentialRecommender
from genrec.models.baselines.settings import HSTUConfig

EPS = 1e-6      # the released layer norms' and L2 normalisation's epsilon
BUCKET_LOG_DIVISOR = 0.301      # the released bucketization: log(max(|dt|, 1)) / 0.301 (natural log; 0.301 ~ log10 2)


def time_buckets(times: torch.Tensor, num_buckets: int) -> torch.Tensor:
    """batch x width x width bucket ids of the gap between query i's next time (`times[:, i + 1]`) and key j's
    time (`times[:, j]`), as released: each query is biased by how long before the predicted interaction a key
    happened. `times` is batch x (width + 1), seconds."""
    gap = times[:, 1:, None] - times[:, None, :-1]
    buckets = (torch.log(gap.abs().clamp(min=1).float()) / BUCKET_LOG_DIVISOR).long()
    return buckets.clamp(0, num_buckets)


class TransductionUnit(nn.Module):
    """One HSTU layer: x + W_o(dropout(U * LN(A V))), A = causal mask * SiLU(Q K^T + rab) / max_length."""

    def __init__(self, hidden: int, heads: int, head_dim: int, max_length: int, dropout: float, num_buckets: int):
        super().__init__()
        self.heads, self.head_dim, self.max_length = heads, head_dim, max_length
        self.uvqk = nn.Parameter(torch.empty(hidden, 4 * heads * head_dim))
        self.out = nn.Linear(heads * head_dim, hidden)
        # rab over the distance j - i of key j from query i, one table shared by the heads (as released)
        self.position_bias = nn.Parameter(torch.empty(2 * max_length - 1))
        # rab's time part, per bucket of the query's next time minus the key's (num_buckets + 1 values, as released)
        self.time_bias = nn.Parameter(torch.empty(num_buckets + 1)) if num_buckets else None
        self.dropout = nn.Dropout(dropout)
        nn.init.normal_(self.uvqk, std=0.02)
        nn.init.xavier_uniform_(self.out.weight)
        nn.init.normal_(self.position_bias, std=0.02)
        if self.time_bias is not None:
            nn.init.normal_(self.time_bias, std=0.02)

    def forward(self, x: torch.Tensor, real: torch.Tensor, buckets: torch.Tensor | None = None) -> torch.Tensor:
        batch, width, hidden = x.shape
        projected = F.silu(F.layer_norm(x, (hidden,), eps=EPS) @ self.uvqk)
        u, v, q, k = projected.split(self.heads * self.head_dim, dim=-1)
        q, k, v = (t.view(batch, width, self.heads, self.head_dim) for t in (q, k, v))
        position = torch.arange(width, device=x.device)
        distance = position[None, :] - position[:, None]                     # j - i
        logits = torch.einsum("bnhd,bmhd->bhnm", q, k) + self.position_bias[self.max_length - 1 + distance]
        if self.time_bias is not None:
            logits = logits + self.time_bias[buckets][:, None]
        # a query attends to itself and the real items before it; padding sits before every real item
        allowed = (distance <= 0)[None, None] & real[:, None, None, :]
        # scaled by the constant length, not the row's: the layer norm of A V below removes the scale anyway
        attention = F.silu(logits) / self.max_length * allowed
        attended = torch.einsum("bhnm,bmhd->bnhd", attention, v).reshape(batch, width, -1)
        gated = u * F.layer_norm(attended, (attended.shape[-1],), eps=EPS)
        return x + self.out(self.dropout(gated))


class HSTU(SequentialRecommender):
    def __init__(self, config: HSTUConfig):
        super().__init__()
        self.config = config
        d = config.hidden_size
        self.items = nn.Embedding(config.n_items + 1, d, padding_idx=0)
        self.positions = nn.Embedding(config.max_length, d)
        self.dropout = nn.Dropout(config.dropout)
        self.units = nn.ModuleList(
            TransductionUnit(d, config.num_heads, config.head_dim, config.max_length, config.dropout,
                             config.time_buckets)
            for _ in range(config.num_layers))
        nn.init.trunc_normal_(self.items.weight, std=0.02)
        with torch.no_grad():
            self.items.weight[0].zero_()
        nn.init.xavier_normal_(self.positions.weight)

    def encode(self, sequence: torch.Tensor, users: torch.Tensor | None = None,
               times: torch.Tensor | None = None) -> torch.Tensor:
        real = sequence != PAD
        buckets = None
        if self.reads_times:
            if times is None or times.shape != (sequence.shape[0], sequence.shape[1] + 1):
                raise ValueError("HSTU's time bias reads `times`, batch x (width + 1): each item's time, then the "
                                 "time asked for")
            buckets = time_buckets(times, self.config.time_buckets)
        # positions count from the oldest item kept, as the released code's left-aligned sequences do
        positions = (real.cumsum(1) - 1).clamp(min=0)
        x = self.items(sequence + 1) * self.config.hidden_size ** 0.5 + self.positions(positions)
        x = self.dropout(x) * real[..., None]
        for unit in self.units:
            x = unit(x, real, buckets)
        return F.normalize(x, dim=-1, eps=EPS)

    @property
    def reads_times(self) -> bool:
        return self.config.time_buckets > 0

    def target_table(self) -> torch.Tensor:
        """Cosine over the temperature: the items L2-normalised and divided by it (the ranking is the cosine's)."""
        return F.normalize(self.items.weight, dim=-1, eps=EPS) / self.config.temperature
