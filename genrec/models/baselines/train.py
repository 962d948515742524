"""Training of the sequential baselines: full softmax cross-entropy over all items at every position of
each user's training sequence (or S3-Rec's BCE against one sampled negative; a non-causal model: at the last
position of every prefix; BERT4Rec: at its masked positions), Adam, early stopping on a valid metric
(`select_metric`, NDCG@10 by default) by full ranking.

A plain PyTorch loop, as in RecBole: the models are small and not HF `PreTrainedModel`s, an epoch takes
seconds, and early stopping needs the same full ranking that produces the final predictions.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import time

import numpy as np
import pandas as pd
import torch

from genrec.evaluate.metrics import first_hit_rank, per_row_metrics
from genrec.data.sequences import query_times
from genrec.models.baselines.sequential import (SequentialRecommender, left_pad, rank_all_items, trim_padding,
                                                 trim_times)
from genrec.models.baselines.settings import BaselineTraining
from genrec.progress import progress

log = logging.getLogger(__name__)


def histories(split: pd.DataFrame) -> list[list[int]]:
    return [[int(i) for i in h] for h in split["history"]]


def rank_split(model: SequentialRecommender, split: pd.DataFrame, k: int, max_length: int,
               mask_history: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """`rank_all_items` of every row of a split: its history, its user, and (a model that reads time) its times."""
    return rank_all_items(model, histories(split), k, max_length, mask_history=mask_history,
                          users=split["user_id"].astype(int).tolist(),
                          times=query_times(split) if model.reads_times else None)


def valid_metric(model: SequentialRecommender, valid: pd.DataFrame, max_length: int, mask_history: bool,
                 metric: str, k: int) -> float:
    """`metric` (hr@K or ndcg@K, K = `k`) of `model` on the valid split by full ranking."""
    top, _ = rank_split(model, valid, k, max_length, mask_history)
    ranks = first_hit_rank(top.numpy(), valid["target"].to_numpy())
    return float(per_row_metrics(ranks, (k,))[metric].mean())


def train_baseline(name: str, architecture: dict, n_items: int, train: pd.DataFrame, valid: pd.DataFrame,
                   settings: BaselineTraining, mask_history: bool, items: pd.DataFrame | None = None,
                   pretrained: SequentialRecommender | None = None,
                   has_timestamps: bool = False) -> tuple[SequentialRecommender, dict]:
    """Build baseline `name` under the run's seed, its initial weights included (seeding only the training loop
    left the initialisation, and so the metrics, different on every run), then train it: from the weights of
    its `pretrained` first stage where it has one (S3-Rec). `has_timestamps`: the dataset's times are real (a
    time-aware model uses them)."""
    from genrec.models.baselines.registry import build_model

    torch.manual_seed(settings.seed)
    model = build_model(name, architecture, n_items, n_users=int(train["user_id"].max()) + 1 if len(train) else 0,
                        items=items, has_timestamps=has_timestamps)
    if pretrained is not None:
        model.load_state_dict(pretrained.state_dict())
    return model, train_sequential(model, train, valid, settings, mask_history=mask_history)


def train_sequential(model: SequentialRecommender, train: pd.DataFrame, valid: pd.DataFrame,
                     settings: BaselineTraining, mask_history: bool) -> dict:
    """Train `model` in place; it ends holding the weights of its best valid `select_metric` (ranked under the
    run's `evaluate.mask_history`, as the test split will be). Returns the log."""
    started = time.monotonic()
    torch.manual_seed(settings.seed)
    max_length, metric = model.config.max_length, settings.select_metric
    examples = model.training_examples(train, max_length)
    sequences, users = left_pad(examples.sequences, max_length + 1), torch.tensor(examples.users, dtype=torch.long)
    times = None if examples.times is None else left_pad(examples.times, max_length + 1)
    log.info("%d training sequences of up to %d items from %d users%s", len(sequences), max_length + 1,
             train["user_id"].nunique(), ", with their times" if times is not None else "")
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    best, best_epoch, best_state, waited, history = -1.0, 0, None, 0, []
    epochs = progress(range(1, settings.max_epochs + 1), desc=f"{type(model).__name__} epochs", unit="epoch")
    for epoch in epochs:
        model.train()
        epoch_start, losses = time.monotonic(), []
        for rows in torch.randperm(len(sequences)).split(settings.batch_size):
            batch = trim_padding(sequences[rows])
            loss = model.training_loss(batch, settings.loss, users[rows], length_groups=settings.length_groups,
                                       times=None if times is None else trim_times(times[rows], sequences, batch))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        entry = {"epoch": epoch, "loss": round(float(np.mean(losses)), 5),
                 "train_seconds": round(time.monotonic() - epoch_start, 2)}
        out_of_time = settings.max_seconds is not None and time.monotonic() - started > settings.max_seconds
        if epoch % settings.eval_every == 0 or epoch == settings.max_epochs or out_of_time:
            score = round(valid_metric(model, valid, max_length, mask_history, metric, settings.select_k), 5)
            entry[f"valid_{metric}"] = score
            if score > best:
                best, best_epoch, waited = score, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                waited += 1
            epochs.set_postfix(loss=entry["loss"], **{metric: score}, best=best)
        history.append(entry)
        log.info("epoch %s", entry)
        if waited >= settings.patience:
            log.info("early stop: no valid %s gain in %d evaluations", metric, waited)
            break
        if out_of_time:
            log.info("time limit of %.0f s reached after epoch %d", settings.max_seconds, epoch)
            break
    model.load_state_dict(best_state)
    train_seconds = [e["train_seconds"] for e in history]
    return {"training": dataclasses.asdict(settings), "model": dataclasses.asdict(model.config),
            "parameters": sum(p.numel() for p in model.parameters()), "epochs_run": len(history),
            "best_epoch": best_epoch, "select_metric": metric, "best_valid": best, "seconds_per_epoch": round(float(np.mean(train_seconds)), 2),
            "seconds": round(time.monotonic() - started, 1), "log_history": history}
