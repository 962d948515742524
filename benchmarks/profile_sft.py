"""Where an SFT step's time goes, per row and per sequence, on the bundled sample with the quickstart's tiny
backbone: collation, the transformer body's forward, the LM head and loss, backward, the optimizer step, and
what the HF Trainer adds around them.

The parts are timed in a hand-written loop over batches the Trainer would make (micro-batch of `--batch-size`
examples, length-grouped, spread over an epoch; bf16 autocast where SFT uses it); "Trainer" is two epochs of
the Trainer on the same data (the first also builds oneDNN kernels for every new batch shape, the second
reuses them). Optional variants: `--compile` (torch.compile of the
model), `--text-vocab` (a smaller tokenizer for the tiny backbone).

Run: .venv/bin/python benchmarks/profile_sft.py [--steps 30] [--compile] [--text-vocab 1000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from transformers import Trainer, TrainingArguments

from genrec.config import load_config
from genrec.data.prepared import prompt_category
from genrec.embed.encode import item_texts
from genrec.io import read_table
from genrec.models.backbone import create_backbone
from genrec.models.sid_vocab import add_sid_tokens, index_tokens
from genrec.precision import use_bf16
from genrec.prompts import ItemText, stage_templates
from genrec.settings import backbone
from genrec.sft.dataset import LeftPadCollator, SFTDataset, response_loss
from genrec.sft.tasks import build_examples
from genrec.tokenize.index import read_index
from genrec.training import EpochClock

ROOT = Path(__file__).resolve().parents[1]
BF16 = use_bf16("auto")          # as SFT's `precision: auto` decides on this machine


def setup(mode: str, args: argparse.Namespace):
    config = load_config(ROOT / "config" / "config.yaml")
    spec = backbone(config, "tiny")
    if args.text_vocab:
        entry = {k: v for k, v in spec.to_dict().items() if k != "name"} | {"text_vocab_size": args.text_vocab}
        spec = type(spec).named("tiny", entry)
    data = Path(args.data)
    items, train = read_table(data / "items.parquet"), read_table(data / "train.parquet")
    index = read_index(args.index, n_items=len(items))
    model, tokenizer = create_backbone(spec, item_texts(items), index_tokens(index), seed=0)
    add_sid_tokens(model, tokenizer, index_tokens(index), "mean")
    templates = stage_templates(config["prompts"]["sequence"], "sft")
    text = ItemText.build(items, index, prompt_category(data))
    examples = build_examples({"seq_rec": 1.0}, templates, text, train, 20, 0, mode)
    sid_ids = set(tokenizer.convert_tokens_to_ids(index_tokens(index)))
    return model, tokenizer, SFTDataset(examples, tokenizer, 512, sid_ids)


def length_grouped_batches(dataset: SFTDataset, batch_size: int, steps: int) -> list[list[int]]:
    """`steps` batches spread evenly over one epoch as HF's length-grouped sampler makes it (random megabatches of
    50 batches, each sorted by length), so their mean stands for the epoch's."""
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0)).tolist()
    batches = []
    for start in range(0, len(order), batch_size * 50):
        mega = sorted(order[start:start + batch_size * 50], key=lambda i: -len(dataset[i]["input_ids"]))
        batches += [mega[i:i + batch_size] for i in range(0, len(mega), batch_size)]
    return [batches[i] for i in sorted({round(x) for x in np.linspace(0, len(batches) - 1, steps)})]


def timed_parts(model, dataset, batches, collator) -> dict[str, float]:
    """Mean seconds per step of each part over `batches` (after 3 warm-up steps)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    parts: dict[str, list[float]] = {k: [] for k in ("collation", "body forward", "LM head + loss", "backward",
                                                      "optimizer", "step")}
    for step, rows in enumerate(batches):
        t0 = time.perf_counter()
        batch = collator([dataset[i] for i in rows])
        t1 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=BF16):
            hidden = model.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                 position_ids=batch["position_ids"]).last_hidden_state
            t2 = time.perf_counter()
            logits = model.lm_head(hidden[:, -batch["logits_to_keep"]:])
            loss = response_loss(type("Out", (), {"logits": logits})(), batch["labels"])
        t3 = time.perf_counter()
        loss.backward()
        t4 = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad()
        t5 = time.perf_counter()
        if step >= 3:
            for name, seconds in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0)):
                parts[name].append(seconds)
    return {name: statistics.mean(values) for name, values in parts.items()}


def trainer_epoch_seconds(model, dataset, collator, batch_size: int) -> list[float]:
    """Seconds of each of two epochs of the HF Trainer on `dataset`, as SFT runs it (length-grouped, bf16 where
    SFT uses it, no evaluation or checkpoint). The first epoch also pays for oneDNN kernels of every new batch
    shape; the second reuses them."""
    args = TrainingArguments(output_dir="/tmp/profile_sft", per_device_train_batch_size=batch_size, num_train_epochs=2,
                             learning_rate=1e-3, report_to=[], logging_steps=10 ** 6, save_strategy="no",
                             use_cpu=True, disable_tqdm=True, remove_unused_columns=False,
                             train_sampling_strategy="group_by_length", bf16=BF16)
    clock = EpochClock()
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator,
                      compute_loss_func=response_loss, callbacks=[clock])
    trainer.train()
    return clock.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / "results" / "data" / "sample"))
    parser.add_argument("--index", default=str(ROOT / "results" / "sid" / "sample" / "rqvae" / "index.json"))
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--text-vocab", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("| mode | examples | tokens / step | collation | body forward | LM head + loss | backward | optimizer | "
          "step (hand loop) | s / epoch: hand loop | s / epoch: Trainer, 1st | 2nd |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mode in ("row", "sequence"):
        torch.manual_seed(0)
        model, tokenizer, dataset = setup(mode, args)
        if args.compile:
            model = torch.compile(model)
        collator = LeftPadCollator(tokenizer.pad_token_id)
        batches = length_grouped_batches(dataset, args.batch_size, args.steps)
        tokens = statistics.mean(sum(len(dataset[i]["input_ids"]) for i in rows) for rows in batches)
        parts = timed_parts(model, dataset, batches, collator)
        steps_per_epoch = -(-len(dataset) // args.batch_size)
        hand = parts["step"] * steps_per_epoch
        first, second = trainer_epoch_seconds(model, dataset, collator, args.batch_size)
        print(f"| {mode} | {len(dataset):,} | {tokens:,.0f} | "
              + " | ".join(f"{parts[k] * 1000:.0f} ms" for k in parts)
              + f" | {hand:.1f} | {first:.1f} | {second:.1f} |")


if __name__ == "__main__":
    main()
