"""S3-Rec's self-supervised stage (aHuiWang/CIKM2020-S3Rec @ 49a890d, datasets.py PretrainDataset and
trainers.py PretrainTrainer): every prefix of every user's training sequence is an instance, its masks, negatives
and segments drawn anew each epoch, trained with Adam on the weighted sum of the four objectives. Batches are
grouped by length (HF's LengthGroupedSampler, as TIGER's and ETEGRec's training), so that a batch of short
prefixes is not padded to the longest one's width: most prefixes are short (the sample's median history is 3)."""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
import pandas as pd
import torch

from genrec.data.sequences import user_sequences
from genrec.models.baselines.s3rec import S3Rec
from genrec.models.baselines.settings import S3RecPretraining
from genrec.progress import progress

log = logging.getLogger(__name__)
OBJECTIVES = ("aap", "mip", "map", "sp")


def pretraining_sequences(train: pd.DataFrame, max_length: int) -> list[list[int]]:
    """Every prefix of every user's training sequence, each its latest `max_length` items."""
    return [sequence.items[max(0, end - max_length):end]
            for sequence in user_sequences(train) for end in range(1, len(sequence.items) + 1)]


def pretraining_batch(prefixes: list[list[int]], n_items: int, mask_ratio: float, all_items: np.ndarray,
                      rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """One batch of instances as `S3Rec.pretraining_losses` takes them (shifted ids, left-padded):
    - items masked with probability `mask_ratio`, the last one always, each masked one given a negative item
      the sequence does not hold;
    - a segment of 1 to len/2 items masked, and the segment alone beside a segment of the same length taken
      from `all_items` (every user's sequence end to end), the rest of both [mask]; a sequence of one item is
      its own segment, as in the released code."""
    mask = n_items + 1
    width = max(len(p) for p in prefixes)
    rows: dict[str, list[list[int]]] = {key: [] for key in
                                        ("items", "masked", "negatives", "segment", "positive_segment",
                                         "negative_segment")}
    for prefix in prefixes:
        sequence = [i + 1 for i in prefix]
        held = set(sequence)
        masked, negatives = list(sequence), list(sequence)
        for position in range(len(sequence)):
            if position == len(sequence) - 1 or rng.random() < mask_ratio:
                masked[position] = mask
                negative = int(rng.integers(1, n_items + 1))
                while negative in held:
                    negative = int(rng.integers(1, n_items + 1))
                negatives[position] = negative
        if len(sequence) < 2:
            segment = positive = negative_segment = sequence
        else:
            length = int(rng.integers(1, len(sequence) // 2 + 1))
            start = int(rng.integers(0, len(sequence) - length + 1))
            other = int(rng.integers(0, len(all_items) - length + 1))
            after = len(sequence) - start - length
            segment = sequence[:start] + [mask] * length + sequence[start + length:]
            positive = [mask] * start + sequence[start:start + length] + [mask] * after
            negative_segment = [mask] * start + [int(i) + 1 for i in all_items[other:other + length]] + [mask] * after
        for key, row in zip(rows, (sequence, masked, negatives, segment, positive, negative_segment)):
            rows[key].append([0] * (width - len(row)) + row)
    return {key: torch.tensor(value, dtype=torch.long) for key, value in rows.items()}


def pretrain_s3rec(model: S3Rec, train: pd.DataFrame, settings: S3RecPretraining, seed: int) -> dict:
    """Pre-train `model` in place on the training split; returns the log (each objective's loss per epoch)."""
    started = time.monotonic()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    prefixes = pretraining_sequences(train, model.config.max_length)
    all_items = np.concatenate([s.items for s in user_sequences(train)])
    weights = {name: getattr(settings, f"{name}_weight") for name in OBJECTIVES}
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    log.info("S3-Rec pre-training on %d prefixes, %d epochs", len(prefixes), settings.epochs)
    history = []
    model.train()
    epochs = progress(range(1, settings.epochs + 1), desc="S3-Rec pre-training", unit="epoch")
    for epoch in epochs:
        epoch_start, sums = time.monotonic(), dict.fromkeys(OBJECTIVES, 0.0)
        order = rng.permutation(len(prefixes)).tolist()
        for start in range(0, len(order), settings.batch_size):
            batch = pretraining_batch([prefixes[i] for i in order[start:start + settings.batch_size]],
                                      model.config.n_items, settings.mask_ratio, all_items, rng)
            losses = model.pretraining_losses(**batch, length_groups=settings.length_groups)
            total = sum(weights[name] * losses[name] for name in OBJECTIVES)
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
            for name in OBJECTIVES:
                sums[name] += losses[name].item()
        entry = {"epoch": epoch, **{name: round(sums[name] / len(prefixes), 5) for name in OBJECTIVES},
                 "train_seconds": round(time.monotonic() - epoch_start, 2)}
        history.append(entry)
        epochs.set_postfix({name: entry[name] for name in OBJECTIVES})
        log.info("epoch %s", entry)
        if settings.max_seconds is not None and time.monotonic() - started > settings.max_seconds:
            log.info("time limit of %.0f s reached after epoch %d", settings.max_seconds, epoch)
            break
    return {"pretraining": dataclasses.asdict(settings), "model": dataclasses.asdict(model.config), "seed": seed,
            "instances": len(prefixes), "epochs_run": len(history), "seconds": round(time.monotonic() - started, 1),
            "log_history": history}
