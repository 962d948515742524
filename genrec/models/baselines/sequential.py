"""What the sequential baselines share: left-padded item-id sequences in, one state per position out,
scored against a table of target item vectors (full ranking over all items), saved with `save_pretrained`.

Item ids are shifted by one inside the models (row 0 of the embedding table is padding), so callers use
the dataset's ids and -1 for padding. Sequences are left-padded: the last position is always the
latest item, which is the state that ranks the next one.

A causal model (SASRec, GRU4Rec, Caser, HGN) summarises at position t the items up to t only, so one pass over
a user's sequence supervises every next item. A model whose layers mix the whole input (FMLP-Rec's FFT filters,
BERT4Rec's bidirectional attention) sets `causal = False`: only its last position predicts, so it trains on
every prefix of a sequence with the loss on the prefix's last position (`prefix_sequences`).

A model that reads time (HSTU's time bias; `reads_times`) also gets `times`, batch x (width + 1): the time of each
position's item, then the time the next item is asked for (the target's time), so that column t + 1 is the time
of the item position t predicts. Every other model ignores it.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import pandas as pd
import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn
from torch.nn import functional as F

from genrec.data.sequences import UserSequence, require_history_times, user_sequences

PAD = -1


class SequentialRecommender(nn.Module, PyTorchModelHubMixin):
    """Subclasses build `self.items` (n_items + 1 rows, row 0 = padding) and implement `encode`."""

    items: nn.Embedding
    causal: bool = True

    def encode(self, sequence: torch.Tensor, users: torch.Tensor | None = None,
               times: torch.Tensor | None = None) -> torch.Tensor:
        """batch x length x hidden. In a causal model position t summarises the items up to t (never later ones);
        in another only the last position is a state that ranks (the history's next item). `users` (the rows'
        user ids) is read only by a model with a user embedding (Caser's when on, HGN's); `times` (batch x
        (length + 1), the module docstring's) only by one that `reads_times`."""
        raise NotImplementedError

    def forward(self, sequence: torch.Tensor, users: torch.Tensor | None = None,
                times: torch.Tensor | None = None) -> torch.Tensor:
        return self.encode(sequence, users, times)

    @property
    def reads_times(self) -> bool:
        """Whether `encode` needs the interactions' times (HSTU with its time bias)."""
        return False

    def target_table(self) -> torch.Tensor:
        """(n_items + 1) x hidden: the vectors states are scored against (row 0 = padding). The input item
        embeddings unless a model scores with a table of its own (HGN's W2)."""
        return self.items.weight

    def target_bias(self) -> torch.Tensor | None:
        """A per-item score bias (row 0 = padding), or None."""
        return None

    def scores(self, states: torch.Tensor) -> torch.Tensor:
        """Logits over all items (column i = item i)."""
        logits = states @ self.target_table()[1:].T
        bias = self.target_bias()
        return logits if bias is None else logits + bias[1:]

    def target_scores(self, states: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """The logit of item `items[...]` for each state (`states[..., :]`), without scoring every item."""
        logits = (states * self.target_table()[items + 1]).sum(-1)
        bias = self.target_bias()
        return logits if bias is None else logits + bias[items + 1]

    def inputs_and_targets(self, sequence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each position's input and the next item it is scored on (PAD where nothing is scored): every position
        of a causal model, the last one of any other (the rest have seen their targets)."""
        inputs = sequence[:, :-1]
        # the first real item has no predecessor: a padding position predicts nothing
        targets = sequence[:, 1:].masked_fill(inputs == PAD, PAD)
        if not self.causal:
            targets[:, :-1] = PAD
        return inputs, targets

    def training_examples(self, train: pd.DataFrame, max_length: int) -> TrainingExamples:
        """The sequences an epoch trains on, their users, and their items' times if the model `reads_times`:
        windows of users' training sequences for a causal model, every target's prefix for another."""
        return (training_sequences if self.causal else training_prefixes)(train, max_length, self.reads_times)

    def training_loss(self, sequence: torch.Tensor, loss: str, users: torch.Tensor | None = None,
                      generator: torch.Generator | None = None, length_groups: int = 1,
                      times: torch.Tensor | None = None) -> torch.Tensor:
        """The loss of a batch of training sequences under `baseline_training.loss` (softmax | sampled_bce | bpr),
        its rows encoded in `length_groups` groups of similar length (`encode_in_length_groups`). `times` are the
        sequences' items' times (same shape), for a model that `reads_times`."""
        if loss == "softmax":
            return self.next_item_loss(sequence, users, length_groups, times)
        return self.negative_sampling_loss(sequence, loss, generator, users, length_groups, times)

    def encode_grouped(self, sequence: torch.Tensor, users: torch.Tensor | None, groups: int,
                       times: torch.Tensor | None = None) -> torch.Tensor:
        return encode_in_length_groups(self.encode, sequence, sequence != PAD, users, groups, times)

    def horizon(self) -> int:
        """How many next items each position is trained on under a sampled loss (HGN's T; 1 for the others)."""
        return 1

    def next_item_loss(self, sequence: torch.Tensor, users: torch.Tensor | None = None,
                       length_groups: int = 1, times: torch.Tensor | None = None) -> torch.Tensor:
        """Full-softmax cross-entropy of every scored next item of left-padded user sequences. Only the scored
        positions are ranked over all items: most of a batch's positions are padding (Beauty's sequences hold
        9 items on average, its batches are up to 50 wide), and the item logits are most of the step's work."""
        inputs, targets = self.inputs_and_targets(sequence)
        scored = targets != PAD
        # the inputs drop the last item, so the sequence's times are the inputs' times and their query times
        states = self.encode_grouped(inputs, users, length_groups, times)[scored]
        return F.cross_entropy(self.scores(states), targets[scored])

    def negative_sampling_loss(self, sequence: torch.Tensor, loss: str, generator: torch.Generator | None = None,
                               users: torch.Tensor | None = None, length_groups: int = 1,
                               times: torch.Tensor | None = None) -> torch.Tensor:
        """At every scored position, each of its next `horizon()` items against its own negative, drawn uniformly
        from the items the sequence does not hold (S3-Rec excludes the user's whole sequence; a window is what a
        row here holds), under `sampled_loss`. With one item ahead and `sampled_bce` this is S3-Rec's fine-tuning
        loss (aHuiWang/CIKM2020-S3Rec @ 49a890d, trainers.py `cross_entropy`); with three and `bpr`, HGN's
        (allenjack/HGN @ 8db86c1, run.py: T = 3 targets, each paired with one of 3 negatives)."""
        inputs, targets = self.inputs_and_targets(sequence)
        states = self.encode_grouped(inputs, users, length_groups, times)
        positives, negatives = [], []
        for ahead in range(self.horizon()):
            # the item `ahead` steps after each position's next one (PAD past the sequence's end)
            later = F.pad(targets[:, ahead:], (0, ahead), value=PAD).masked_fill(targets == PAD, PAD)
            scored = later != PAD
            drawn = sample_negatives(sequence, self.config.n_items, generator)[:, 1:]
            positives.append(self.target_scores(states[scored], later[scored]))
            negatives.append(self.target_scores(states[scored], drawn[scored]))
        return sampled_loss(torch.cat(positives), torch.cat(negatives), loss)

    def user_vectors(self, users: torch.Tensor | None, table: nn.Embedding, n_users: int) -> torch.Tensor:
        """Rows of a user embedding `table` for the batch's user ids: users unseen in training (ids past
        `n_users`, or -1) share row 0."""
        if users is None:
            raise ValueError(f"this {type(self).__name__} has a user embedding: pass the rows' user ids")
        known = (users >= 0) & (users < n_users)
        return table(torch.where(known, users + 1, 0))

    def item_embeddings(self) -> torch.Tensor:
        """n_items x hidden: row i = item i (the collaborative embeddings other stages reuse)."""
        return self.items.weight[1:self.config.n_items + 1].detach()


def encode_in_length_groups(encode: Callable[..., torch.Tensor], inputs: torch.Tensor, real: torch.Tensor,
                            users: torch.Tensor | None, groups: int,
                            times: torch.Tensor | None = None) -> torch.Tensor:
    """`encode(inputs, users)` of a left-padded batch, its rows taken in `groups` groups of similar length and each
    group trimmed to its own longest row. The states are the same (every model's are padding-invariant, tested),
    but one long row no longer makes the whole batch encode its padding: on Beauty 87 % of a random batch's
    positions are padding. Positions a group does not reach come back as zeros; they are padding."""
    if groups <= 1:
        return encode(inputs, users, times)
    lengths = real.sum(1)
    order = lengths.argsort()
    parts = []
    for rows in order.tensor_split(min(groups, len(order))):
        width = max(int(lengths[rows].max()), 1)
        states = encode(inputs[rows, -width:], None if users is None else users[rows],
                        None if times is None else times[rows, -width - 1:])
        parts.append(F.pad(states, (0, 0, inputs.shape[1] - width, 0)))
    return torch.cat(parts)[order.argsort()]


def attention_mask(tokens: torch.Tensor, num_heads: int, causal: bool) -> torch.Tensor:
    """(batch * heads) x L x L, True where attention is blocked, for shifted token ids (0 = padding): a position
    sees every real position (causal: itself and earlier ones only); padding is never attended to, except by
    itself, which keeps the softmax of an all-padding row defined."""
    length = tokens.shape[1]
    blocked = (tokens == 0)[:, None, :].expand(-1, length, -1)
    if causal:
        blocked = blocked | torch.ones(length, length, dtype=torch.bool, device=tokens.device).triu(1)[None]
    blocked = blocked & ~torch.eye(length, dtype=torch.bool, device=tokens.device)[None]
    return blocked.repeat_interleave(num_heads, dim=0)


def bert_encoder(hidden: int, heads: int, intermediate: int, layers: int, dropout: float) -> nn.TransformerEncoder:
    """The post-LayerNorm BERT block stack of BERT4Rec, FDSA and S3-Rec (GELU, LayerNorm eps 1e-12)."""
    layer = nn.TransformerEncoderLayer(hidden, heads, intermediate, dropout, activation="gelu", batch_first=True,
                                       layer_norm_eps=1e-12)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


def init_bert_weights(model: nn.Module) -> None:
    """Normal(0, 0.02) linear and embedding weights, zero biases (the BERT initialisation these models use)."""
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)


def empty_attribute_table(n_items: int, width: int) -> torch.Tensor:
    """The attribute table a model registers as a buffer, filled when the model is built (`attribute_table`) or
    loaded (its saved state)."""
    return torch.zeros(n_items + 1, max(width, 1), dtype=torch.long)


def attribute_table(per_item: list[list[int]], width: int) -> torch.Tensor:
    """(n_items + 1) x width attribute ids (row 0 = padding item, 0 = no attribute), row i + 1 = item i."""
    table = empty_attribute_table(len(per_item), width)
    for item, attributes in enumerate(per_item):
        table[item + 1, :len(attributes)] = torch.tensor(attributes[:width], dtype=torch.long)
    return table


def sampled_loss(positive: torch.Tensor, negative: torch.Tensor, loss: str) -> torch.Tensor:
    """The mean over pairs of a positive and a sampled negative logit: `sampled_bce` scores each on its own
    (-log sigmoid(p) - log(1 - sigmoid(n)), S3-Rec's), `bpr` ranks the pair (-log sigmoid(p - n), HGN's)."""
    if loss == "bpr":
        return F.softplus(negative - positive).mean()
    if loss == "sampled_bce":
        return (F.softplus(-positive) + F.softplus(negative)).mean()
    raise ValueError(f"{loss!r} is not a sampled loss")


def sample_negatives(sequence: torch.Tensor, n_items: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """One item per position, uniform over the items its row does not hold (redrawn until it holds none)."""
    negatives = torch.randint(n_items, sequence.shape, generator=generator)
    while True:
        clash = (negatives.unsqueeze(-1) == sequence.unsqueeze(1)).any(-1)
        if not clash.any():
            return negatives
        negatives[clash] = torch.randint(n_items, (int(clash.sum()),), generator=generator)


class TrainingExamples(NamedTuple):
    sequences: list[list[int]]
    users: list[int]
    times: list[list[int]] | None     # each sequence's items' times, when asked for


def training_sequences(train: pd.DataFrame, max_length: int, with_times: bool = False) -> TrainingExamples:
    """Every user's whole training sequence (`genrec.data.sequences`), cut into windows the models can read,
    each window's user, and (`with_times`) its items' times.

    A sequence is cut from the end into windows of `max_length + 1` items that share one item with the
    previous window: each window predicts `max_length` next items, and every training target is predicted
    exactly once, with as much of its past as a window holds.
    """
    if with_times:
        require_history_times(train)
    spans, users = [], []
    for sequence in user_sequences(train):
        end = len(sequence.items)
        while end > 1:
            spans.append((sequence, max(0, end - max_length - 1), end))
            users.append(sequence.user)
            end -= max_length
    return _examples(spans, users, with_times)


def training_prefixes(train: pd.DataFrame, max_length: int, with_times: bool = False) -> TrainingExamples:
    """The examples of a non-causal model: for every next item of every user's training sequence (the targets
    `training_sequences` supervises), the up to `max_length` items before it followed by that item; each
    example's user, and (`with_times`) its items' times."""
    if with_times:
        require_history_times(train)
    spans, users = [], []
    for sequence in user_sequences(train):
        for end in range(1, len(sequence.items)):
            spans.append((sequence, max(0, end - max_length), end + 1))
            users.append(sequence.user)
    return _examples(spans, users, with_times)


def _examples(spans: list[tuple[UserSequence, int, int]], users: list[int], with_times: bool) -> TrainingExamples:
    return TrainingExamples([s.items[a:b] for s, a, b in spans], users,
                            [s.times[a:b] for s, a, b in spans] if with_times else None)


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


def trim_times(times: torch.Tensor | None, original: torch.Tensor, trimmed: torch.Tensor) -> torch.Tensor | None:
    """The times of a batch trimmed by `trim_padding`: the same columns dropped, any extra (query) column kept."""
    return None if times is None else times[:, original.shape[1] - trimmed.shape[1]:]


@torch.no_grad()
def rank_all_items(model: SequentialRecommender, histories: list[list[int]], k: int, max_length: int,
                   mask_history: bool, batch_size: int = 1024, users: list[int] | None = None,
                   length_groups: int = 8, times: list[list[int]] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k (item ids, scores) per history by full ranking over all items; the model reads the latest
    `max_length` items of each history (and, with a user embedding, the row's user id from `users`; a model that
    `reads_times`, each history's times and the time asked for, `genrec.data.sequences.query_times`).

    `mask_history` removes every item of the history from the ranking; off by default, because the splits
    keep repeat consumption (a user may buy an item again, and the target may be in the history).
    """
    model.eval()
    top_items, top_scores = [], []
    for start in range(0, len(histories), batch_size):
        chunk = histories[start:start + batch_size]
        chunk_users = None if users is None else torch.tensor(users[start:start + batch_size], dtype=torch.long)
        padded = left_pad(chunk, max_length)
        batch = trim_padding(padded)
        chunk_times = None
        if model.reads_times:
            if times is None:
                raise ValueError(f"this {type(model).__name__} reads time: pass each history's times")
            chunk_times = trim_times(left_pad(times[start:start + batch_size], max_length + 1), padded, batch)
        states = model.encode_grouped(batch, chunk_users, length_groups, chunk_times)
        scores = model.scores(states[:, -1])
        if mask_history:
            rows = torch.repeat_interleave(torch.arange(len(chunk)), torch.tensor([len(h) for h in chunk]))
            scores[rows, torch.tensor([i for h in chunk for i in h], dtype=torch.long)] = float("-inf")
        best = scores.topk(k, dim=1)
        top_items.append(best.indices)
        top_scores.append(best.values)
    return torch.cat(top_items), torch.cat(top_scores)
