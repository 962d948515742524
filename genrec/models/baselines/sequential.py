"""What SASRec, GRU4Rec and Caser share: left-padded item-id sequences in, one state per position out,
scored against the item embedding table (full softmax over all items), saved with `save_pretrained`.

Item ids are shifted by one inside the models (row 0 of the embedding table is padding), so callers use
the dataset's ids and -1 for padding. Sequences are left-padded: the last position is always the
latest item, which is the state that ranks the next one.
"""

from __future__ import annotations

import pandas as pd
import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn
from torch.nn import functional as F

from genrec.data.sequences import user_sequences

PAD = -1


class SequentialRecommender(nn.Module, PyTorchModelHubMixin):
    """Subclasses build `self.items` (n_items + 1 rows, row 0 = padding) and implement `encode`."""

    items: nn.Embedding

    def encode(self, sequence: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        """batch x length x hidden: position t summarises the items up to t (never later ones). `users` (the
        rows' user ids) is read only by a model with a user embedding (Caser's, when on)."""
        raise NotImplementedError

    def forward(self, sequence: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        return self.encode(sequence, users)

    def scores(self, states: torch.Tensor) -> torch.Tensor:
        """Logits over all items (column i = item i)."""
        return states @ self.items.weight[1:].T

    def next_item_loss(self, sequence: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        """Full-softmax cross-entropy of every next item of left-padded user sequences (pads not scored)."""
        inputs = sequence[:, :-1]
        # the first real item has no predecessor: a padding position predicts nothing
        targets = sequence[:, 1:].masked_fill(inputs == PAD, PAD)
        logits = self.scores(self.encode(inputs, users))
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=PAD)

    def sampled_bce_loss(self, sequence: torch.Tensor, generator: torch.Generator | None = None,
                         users: torch.Tensor | None = None) -> torch.Tensor:
        """S3-Rec's fine-tuning loss (aHuiWang/CIKM2020-S3Rec @ 49a890d, trainers.py `cross_entropy`): at every
        position, binary cross-entropy of the next item against one negative drawn uniformly from the items the
        sequence does not hold (S3-Rec excludes the user's whole sequence; a window is what a row here holds)."""
        inputs = sequence[:, :-1]
        targets = sequence[:, 1:].masked_fill(inputs == PAD, PAD)
        negatives = sample_negatives(sequence, self.items.num_embeddings - 1, generator)[:, 1:]
        states = self.encode(inputs, users)
        scored = targets != PAD
        positive = (states * self.items(targets + 1)).sum(-1)
        negative = (states * self.items(negatives + 1)).sum(-1)
        losses = F.softplus(-positive) + F.softplus(negative)     # -log sigmoid(p) - log(1 - sigmoid(n))
        return (losses * scored).sum() / scored.sum().clamp(min=1)

    def item_embeddings(self) -> torch.Tensor:
        """n_items x hidden: row i = item i (the collaborative embeddings other stages reuse)."""
        return self.items.weight[1:].detach()


def sample_negatives(sequence: torch.Tensor, n_items: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """One item per position, uniform over the items its row does not hold (redrawn until it holds none)."""
    negatives = torch.randint(n_items, sequence.shape, generator=generator)
    while True:
        clash = (negatives.unsqueeze(-1) == sequence.unsqueeze(1)).any(-1)
        if not clash.any():
            return negatives
        negatives[clash] = torch.randint(n_items, (int(clash.sum()),), generator=generator)


def training_sequences(train: pd.DataFrame, max_length: int) -> tuple[list[list[int]], list[int]]:
    """Every user's whole training sequence (`genrec.data.sequences`), cut into windows the models can read,
    and each window's user.

    A sequence is cut from the end into windows of `max_length + 1` items that share one item with the
    previous window: each window predicts `max_length` next items, and every training target is predicted
    exactly once, with as much of its past as a window holds.
    """
    windows, users = [], []
    for sequence in user_sequences(train):
        end = len(sequence.items)
        while end > 1:
            windows.append(sequence.items[max(0, end - max_length - 1):end])
            users.append(sequence.user)
            end -= max_length
    return windows, users


def left_pad(sequences: list[list[int]], length: int) -> torch.Tensor:
    """Sequences -> a batch x length tensor aligned right, keeping the latest `length` items."""
    out = torch.full((len(sequences), length), PAD, dtype=torch.long)
    for row, seq in enumerate(sequences):
        seq = seq[-length:]
        if seq:
            out[row, length - len(seq):] = torch.tensor(seq)
    return out


def trim_padding(batch: torch.Tensor) -> torch.Tensor:
    """Drop the columns that are padding in every row (a batch's longest sequence sets its width)."""
    width = int((batch != PAD).sum(dim=1).max())
    return batch[:, batch.shape[1] - max(width, 1):]


@torch.no_grad()
def rank_all_items(model: SequentialRecommender, histories: list[list[int]], k: int, max_length: int,
                   mask_history: bool, batch_size: int = 1024,
                   users: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k (item ids, scores) per history by full ranking over all items; the model reads the latest
    `max_length` items of each history (and, with a user embedding, the row's user id from `users`).

    `mask_history` removes every item of the history from the ranking; off by default, because the splits
    keep repeat consumption (a user may buy an item again, and the target may be in the history).
    """
    model.eval()
    top_items, top_scores = [], []
    for start in range(0, len(histories), batch_size):
        chunk = histories[start:start + batch_size]
        chunk_users = None if users is None else torch.tensor(users[start:start + batch_size], dtype=torch.long)
        scores = model.scores(model.encode(trim_padding(left_pad(chunk, max_length)), chunk_users)[:, -1])
        if mask_history:
            rows = torch.repeat_interleave(torch.arange(len(chunk)), torch.tensor([len(h) for h in chunk]))
            scores[rows, torch.tensor([i for h in chunk for i in h], dtype=torch.long)] = float("-inf")
        best = scores.topk(k, dim=1)
        top_items.append(best.indices)
        top_scores.append(best.values)
    return torch.cat(top_items), torch.cat(top_scores)
