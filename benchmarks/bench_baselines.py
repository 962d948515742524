"""Baselines on the bundled sample: train seconds/epoch, evaluation users/s and test quality.

- train s/epoch: from each trained model's `training.json` (the pipeline's own run; evaluation passes
  during training excluded); S3-Rec's pre-training seconds from its `pretraining.json`;
- eval users/s: measured here, ranking every test user -- full ranking over all items for the sequential
  models, constrained beam search (the evaluation config's beam width) for TIGER;
- quality: NDCG@10 / HR@10 of the metrics files, with ratios to SASRec and to MostPop.

Run (after `make run`, or the baselines' rules): .venv/bin/python benchmarks/bench_baselines.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from genrec.evaluate.constrained import SIDTrie
from genrec.config import load_config
from genrec.evaluate.predict import predict_split
from genrec.io import read_table
from genrec.models.backbone import load_backbone
from genrec.models.baselines.registry import SEQUENTIAL, load_model
from genrec.models.checkpoint import trained_with
from genrec.models.baselines.train import rank_split
from genrec.models.sid_vocab import sid_token_ids
from genrec.prompts import ItemText, stage_templates
from genrec.settings import evaluation
from genrec.tokenize.index import read_index

ROOT = Path(__file__).resolve().parents[1]


def sequential_row(name: str, results: Path, dataset: str, test, evaluation) -> dict | None:
    model_dir = results / "models" / dataset / "baselines" / name
    if not model_dir.is_dir():
        return None
    model = load_model(name, str(model_dir))
    training = json.loads((model_dir / "training.json").read_text())
    started = time.perf_counter()
    rank_split(model, test, max(evaluation.ks), model.config.max_length, evaluation.mask_history)
    eval_users_per_s = len(test) / (time.perf_counter() - started)
    # a two-stage baseline (S3-Rec): the pre-training's seconds beside the fine-tuning's
    pretrained = Path(training["pretrained"]) / "pretraining.json" if "pretrained" in training else None
    return {"train_s_per_epoch": training["seconds_per_epoch"], "epochs": training["epochs_run"],
            "train_s": training["seconds"], "eval_users_per_s": eval_users_per_s,
            "pretrain_s": json.loads(pretrained.read_text())["seconds"] if pretrained and pretrained.exists() else None,
            "metrics": results / "metrics" / dataset / "baselines" / f"{name}.json"}


def tiger_row(results: Path, dataset: str, tokenizer: str, backbone: str, config: dict, items, test) -> dict | None:
    """TIGER decoded as the evaluate rule decodes it: the checkpoint's prompts and SID index, the config's beams."""
    model_dir = results / "models" / dataset / tokenizer / backbone / "tiger"
    if not model_dir.is_dir():
        return None
    training = json.loads((model_dir / "training.json").read_text())
    log = training["log_history"]
    evaluating = sum(e.get("eval_runtime", 0.0) for e in log)
    runtime = next(e["train_runtime"] for e in log if "train_runtime" in e)
    model, tokenizer_ = load_backbone(str(model_dir))
    trained, index_path = trained_with(model_dir)
    index = read_index(index_path, n_items=len(items))
    trie = SIDTrie(sid_token_ids(tokenizer_, index))
    started = time.perf_counter()
    predict_split(model, tokenizer_, test, ItemText.build(items, index), stage_templates(trained.templates, "evaluate"), trie,
                  evaluation(config), trained.prompt_history)
    return {"train_s_per_epoch": (runtime - evaluating) / training["epochs_run"], "epochs": training["epochs_run"],
            "train_s": training["seconds"], "eval_users_per_s": len(test) / (time.perf_counter() - started),
            "metrics": results / "metrics" / dataset / tokenizer / backbone / "tiger.json"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=str(ROOT / "results"))
    parser.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    parser.add_argument("--dataset", default="sample")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results, config = Path(args.results), load_config(args.config)
    data = results / "data" / args.dataset
    items, test = read_table(data / "items.parquet"), read_table(data / "test.parquet")

    rows = {name: sequential_row(name, results, args.dataset, test, evaluation(config)) for name in SEQUENTIAL}
    for tokenizer in config["tiger"]["tokenizers"]:
        rows[f"tiger ({tokenizer})"] = tiger_row(results, args.dataset, tokenizer, config["tiger"]["backbone"],
                                                 config, items, test)
    rows = {name: row for name, row in rows.items() if row is not None}
    if not rows:
        raise SystemExit(f"no trained baseline under {results}/models/{args.dataset}: run `make run` first")
    quality = {name: json.loads(row["metrics"].read_text())["metrics"] for name, row in rows.items()
               if row["metrics"].exists()}
    mostpop_path = results / "metrics" / args.dataset / "baselines" / "mostpop.json"
    if mostpop_path.exists():
        quality["mostpop"] = json.loads(mostpop_path.read_text())["metrics"]
    sasrec, mostpop = quality.get("sasrec"), quality.get("mostpop")

    print(f"{len(test)} test users, {len(items)} items, {args.threads} threads\n")
    print("| baseline | train s/epoch | epochs | train s | pre-train s | eval users/s | NDCG@10 | HR@10 | NDCG@10 / SASRec "
          "| NDCG@10 / MostPop |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in [*rows, "mostpop"]:
        row, q = rows.get(name, {}), quality.get(name)
        if q is None:
            continue
        ratio = lambda ref: f"{q['ndcg@10'] / ref['ndcg@10']:.2f}" if ref else "–"
        pretrain = f"{row['pretrain_s']:.0f}" if row.get("pretrain_s") else "–"
        timing = (f"{row['train_s_per_epoch']:.1f} | {row['epochs']:.0f} | {row['train_s']:.0f} | {pretrain} | "
                  f"{row['eval_users_per_s']:,.0f}") if row else "– | – | – | – | –"
        print(f"| {name} | {timing} | {q['ndcg@10']:.4f} | {q['hr@10']:.4f} | {ratio(sasrec)} | {ratio(mostpop)} |")


if __name__ == "__main__":
    main()
