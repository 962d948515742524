"""FMLP-Rec (Zhou et al., WWW 2022): an all-MLP encoder whose token mixing is a learnable filter in the
frequency domain (FFT along the sequence, an element-wise complex weight, inverse FFT) instead of self-attention,
each filter and feed-forward block with a residual and LayerNorm. Follows Woeee/FMLP-Rec @ COMMIT (models.py,
modules.py).

The filter is a circular convolution over the whole input, so every position reads every other one: only the
last position is a state (`causal = False`), and the model trains on every prefix's last position. Two things
keep that state a function of the history alone:
- the input is always `max_length` wide (left-padded), so the filter, defined for that length, is one filter;
- padding positions are zeroed before every filter, so they add nothing to the convolution (in the released code
  they carry position embeddings through the LayerNorms and do).
"""

# no `from __future__ import annotations`: the hub mixin rebuilds the config dataclass from the real annotation

import torch
from torch import nn
from torch.nn import functional as F

from genrec.models.baselines.sequential import PAD, SequentialRecommender, init_bert_weights
from genrec.models.baselines.settings import FMLPRecConfig


class FilterLayer(nn.Module):
    def __init__(self, length: int, hidden: int, dropout: float):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, length // 2 + 1, hidden, 2) * 0.02)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spectrum = torch.fft.rfft(x, dim=1, norm="ortho") * torch.view_as_complex(self.weight)
        filtered = torch.fft.irfft(spectrum, n=x.shape[1], dim=1, norm="ortho")
        return self.norm(self.dropout(filtered) + x)


class FeedForward(nn.Module):
    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.up, self.down = nn.Linear(hidden, 4 * hidden), nn.Linear(4 * hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.dropout(self.down(F.gelu(self.up(x)))) + x)


class FMLPRec(SequentialRecommender):
    causal = False

    def __init__(self, config: FMLPRecConfig):
        super().__init__()
        self.config = config
        d, n = config.hidden_size, config.max_length
        self.items = nn.Embedding(config.n_items + 1, d, padding_idx=0)
        self.positions = nn.Embedding(n, d)
        self.norm = nn.LayerNorm(d, eps=1e-12)
        self.dropout = nn.Dropout(config.dropout)
        self.filters = nn.ModuleList(FilterLayer(n, d, config.dropout) for _ in range(config.num_layers))
        self.feed_forwards = nn.ModuleList(FeedForward(d, config.dropout) for _ in range(config.num_layers))
        init_bert_weights(self)          # the released init_weights

    def encode(self, sequence: torch.Tensor, users: torch.Tensor | None = None,
               times: torch.Tensor | None = None) -> torch.Tensor:
        width, n = sequence.shape[1], self.config.max_length
        sequence = F.pad(sequence[:, -n:], (n - min(width, n), 0), value=PAD)   # always max_length wide
        real = (sequence != PAD)[..., None].float()
        x = self.dropout(self.norm(self.items(sequence + 1) + self.positions.weight)) * real
        for filter_layer, feed_forward in zip(self.filters, self.feed_forwards):
            x = feed_forward(filter_layer(x)) * real
        return x[:, n - min(width, n):]
