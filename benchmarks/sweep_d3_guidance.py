"""D3's assistant weight on the valid split: NDCG@10 / HR@10 of a trained D3 model decoded with SASRec's
probabilities mixed in at several guidance scales g (each step scores g x log p_LLM + (1 - g) x log p_SASRec;
g 1 is the LLM alone), beside MostPop and SASRec alone on the same valid rows. A setting is chosen on valid,
never on test: this is how `d3.guidance_scale` is picked.

Run (after a D3 run, e.g. `snakemake results/metrics/sample/titles/tiny_text/d3.json --configfile
config/experiments/cpu-full.yaml`):
    .venv/bin/python benchmarks/sweep_d3_guidance.py --users 512 --scales 1.0 0.8 0.5 0.2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from genrec.config import load_config
from genrec.data.prepared import prompt_category
from genrec.evaluate.predict import predict_split, title_trie
from genrec.evaluate.scoring import name_group_sizes, score, score_item_ranking
from genrec.io import read_table
from genrec.models.backbone import load_backbone
from genrec.models.baselines.mostpop import most_popular_per_row
from genrec.models.baselines.registry import load_model
from genrec.models.baselines.scorer import history_scores, load_scorer
from genrec.models.baselines.train import histories, rank_split
from genrec.models.checkpoint import trained_with
from genrec.prompts import RECOMMENDATION_TASK, ItemText, stage_templates
from genrec.settings import evaluation

ROOT = Path(__file__).resolve().parents[1]
KS = (1, 5, 10, 20)


def line(name: str, metrics: dict, seconds: float | None = None) -> str:
    low, high = metrics["ci95"]["ndcg@10"]
    took = f"{seconds:7.0f} s" if seconds is not None else ""
    return (f"| {name:<24} | {metrics['metrics']['ndcg@10']:.4f} [{low:.4f}, {high:.4f}] | "
            f"{metrics['metrics']['hr@10']:.4f} | {took} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="results/models/sample/titles/tiny_text/d3")
    parser.add_argument("--scorer", default="results/models/sample/baselines/sasrec")
    parser.add_argument("--data", default="results/data/sample")
    parser.add_argument("--config", nargs="+", default=["config/config.yaml", "config/experiments/cpu-full.yaml"])
    parser.add_argument("--users", type=int, default=512, help="the first N rows of the valid split")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.8, 0.5, 0.2])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = evaluation(load_config(*(ROOT / c for c in args.config)))
    trained, index_path = trained_with(ROOT / args.model)
    if index_path is not None:
        parser.error(f"{args.model} names items by SID: D3's assistant decodes titles")
    data = ROOT / args.data
    items, train = read_table(data / "items.parquet"), read_table(data / "train.parquet")
    valid = read_table(data / "valid.parquet").head(args.users).reset_index(drop=True)
    model, tokenizer = load_backbone(ROOT / args.model)
    templates = stage_templates(trained.templates, "evaluate")
    text = ItemText.build(items, None, prompt_category(data))
    trie = title_trie(tokenizer, text.titles, templates[RECOMMENDATION_TASK["title"]])
    groups = name_group_sizes(text.titles)
    scores = history_scores(load_scorer(ROOT / args.scorer, "the guidance sweep"))
    k = max(settings.ks)
    print(f"{len(valid)} valid rows of {args.data}, beam {settings.num_beams}, mask_history {settings.mask_history}, "
          f"{args.threads} thread(s)")
    print("| run | valid NDCG@10 [95 % CI] | valid HR@10 | decoding |")
    print("|---|---:|---:|---:|")
    top = most_popular_per_row(train, len(items), k, histories(valid), settings.mask_history)
    print(line("MostPop", score_item_ranking(valid, items, top, None, KS, None)[1]))
    sasrec = load_model("sasrec", str(ROOT / args.scorer))
    ranked, ranked_scores = rank_split(sasrec, valid, k, sasrec.config.max_length, settings.mask_history)
    print(line("SASRec (the assistant)", score_item_ranking(valid, items, ranked.numpy(), ranked_scores.numpy(), KS,
                                                              None)[1]))
    for scale in args.scales:
        started = time.monotonic()
        records = predict_split(model, tokenizer, valid, text, templates, trie, settings, trained.prompt_history,
                                naming=trained.naming, assistant=None if scale == 1.0 else (scores, scale))
        records.sort(key=lambda r: r["row"])
        print(line(f"D3, g {scale}", score(records, groups, KS), time.monotonic() - started), flush=True)


if __name__ == "__main__":
    main()
