"""Sequential baselines: seconds per training step (and S3-Rec's pre-training step) and ranking users/s with each batch encoded whole
(`baseline_training.length_groups: 1`) against encoded in groups of similar length (the default), on real
batches of a prepared dataset. The loss and the ranking are the same either way (tests/test_baselines.py); only
the padding that is encoded differs.

Run (after the dataset's `preprocess` rule, e.g. `snakemake results/data/Beauty/train.parquet --configfile
config/experiments/tiger-beauty.yaml`):
    .venv/bin/python benchmarks/bench_length_groups.py --data results/data/Beauty \
        --config config/experiments/tiger-beauty.yaml --models sasrec fdsa bert4rec
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from genrec.config import load_config
from genrec.data.sequences import user_sequences
from genrec.io import read_table
from genrec.models.baselines.pretrain import pretraining_batch, pretraining_sequences
from genrec.models.baselines.registry import build_model
from genrec.models.baselines.sequential import left_pad, rank_all_items, trim_padding
from genrec.models.baselines.train import histories
from genrec.models.baselines.settings import PRETRAINED
from genrec.settings import baseline_job, pretrain_job

ROOT = Path(__file__).resolve().parents[1]


def seconds_per_step(model, batches: list[torch.Tensor], users: list[torch.Tensor], loss: str, groups: int) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step(batch: torch.Tensor, batch_users: torch.Tensor) -> None:
        value = model.training_loss(batch, loss, batch_users, length_groups=groups)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()

    step(batches[0], users[0])                                     # warm-up
    started = time.perf_counter()
    for batch, batch_users in zip(batches, users):
        step(batch, batch_users)
    return (time.perf_counter() - started) / len(batches)


def pretraining_seconds_per_step(model, train: pd.DataFrame, batch_size: int, mask_ratio: float, groups: int,
                                 steps: int) -> float:
    """S3-Rec's pre-training: random batches of prefixes, as `pretrain_s3rec` draws them."""
    rng = np.random.default_rng(0)
    prefixes = pretraining_sequences(train, model.config.max_length)
    all_items = np.concatenate([s.items for s in user_sequences(train)])
    batches = [pretraining_batch([prefixes[i] for i in rng.choice(len(prefixes), batch_size, replace=False)],
                                 model.config.n_items, mask_ratio, all_items, rng) for _ in range(steps + 1)]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    started = None
    for batch in batches:
        started = started or time.perf_counter()        # the first step warms up
        total = sum(model.pretraining_losses(**batch, length_groups=groups).values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    return (time.perf_counter() - started) / steps


def ranking_users_per_s(model, valid: pd.DataFrame, groups: int) -> float:
    started = time.perf_counter()
    rank_all_items(model, histories(valid), 20, model.config.max_length, mask_history=True,
                   users=valid["user_id"].astype(int).tolist(), length_groups=groups)
    return len(valid) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="results/data/sample")
    parser.add_argument("--config", nargs="+", default=["config/config.yaml"])
    parser.add_argument("--models", nargs="+", default=["sasrec", "fdsa", "bert4rec"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(*[ROOT / path for path in args.config])
    data = Path(args.data)
    items, train, valid = (read_table(data / f"{split}.parquet") for split in ("items", "train", "valid"))
    valid = valid.head(4096)
    print(f"{data.name}: {args.steps} steps of real batches per model, {args.threads} thread(s); "
          f"ranking {len(valid)} valid users")
    print(f"{'model':<10} {'groups':>6} {'s/step':>8} {'speed-up':>9} {'rank users/s':>13} {'speed-up':>9}")
    for name in args.models:
        job = baseline_job(config, name)
        torch.manual_seed(0)
        model = build_model(name, job.model, len(items), n_users=int(train["user_id"].max()) + 1, items=items)
        sequences, sequence_users, _ = model.training_examples(train, model.config.max_length)
        padded = left_pad(sequences, model.config.max_length + 1)
        generator = torch.Generator().manual_seed(0)
        rows = [torch.randperm(len(padded), generator=generator)[:job.training.batch_size]
                for _ in range(args.steps)]
        batches = [trim_padding(padded[r]) for r in rows]
        users = [torch.tensor(sequence_users, dtype=torch.long)[r] for r in rows]
        base_step = base_rank = None
        for groups in dict.fromkeys((1, job.training.length_groups)):
            step = seconds_per_step(model, batches, users, job.training.loss, groups)
            rank = ranking_users_per_s(model, valid, groups)
            base_step, base_rank = base_step or step, base_rank or rank
            print(f"{name:<10} {groups:>6} {step:>8.3f} {base_step / step:>8.2f}x {rank:>13,.0f} "
                  f"{rank / base_rank:>8.2f}x", flush=True)
        if name in PRETRAINED:
            settings = pretrain_job(config, name, seed=1).pretraining
            base = None
            for groups in dict.fromkeys((1, settings.length_groups)):
                step = pretraining_seconds_per_step(model, train, settings.batch_size, settings.mask_ratio, groups,
                                                    args.steps)
                base = base or step
                print(f"{name + ' pre':<10} {groups:>6} {step:>8.3f} {base / step:>8.2f}x", flush=True)


if __name__ == "__main__":
    main()
