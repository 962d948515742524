"""Does a title model read the history? The summed log-probability of each valid row's target title after its own
history's prompt, against the same target after another row's history (the histories shuffled across rows). A model
that recommends from the history gives its own history's prompt the higher likelihood; one that has learnt only
which titles are common gives both the same, and can rank no better than a popularity prior.

Run (after a D3 run):
    .venv/bin/python benchmarks/probe_history_use.py --model results/models/sample/titles/tiny_text/d3 --users 512
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from genrec.data.prepared import prompt_category
from genrec.evaluate.metrics import paired_difference
from genrec.io import read_table
from genrec.models.backbone import load_backbone
from genrec.models.checkpoint import trained_with
from genrec.prompts import RECOMMENDATION_TASK, ItemText, stage_templates
from genrec.sdpo.train import PreferenceCollator, PreferenceDataset, preferences, response_logps

ROOT = Path(__file__).resolve().parents[1]


def target_logps(model, tokenizer, rows, text, templates, prompt_history: int, max_length: int,
                 batch_size: int = 16) -> np.ndarray:
    """log p(target title | the row's prompt), summed over the title response's tokens (EOS included)."""
    prefs = preferences(rows, text, templates, prompt_history, negatives=0, seed=0)
    data = PreferenceDataset(prefs, text, templates[RECOMMENDATION_TASK["title"]], tokenizer, max_length)
    collate = PreferenceCollator(tokenizer.pad_token_id)
    out = []
    with torch.inference_mode():
        for start in range(0, len(data), batch_size):
            out.append(response_logps(model, collate([data[i] for i in range(start, min(start + batch_size,
                                                                                          len(data)))])))
    return torch.cat(out).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="results/models/sample/titles/tiny_text/d3")
    parser.add_argument("--data", default="results/data/sample")
    parser.add_argument("--users", type=int, default=512, help="the first N rows of the valid split")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    trained, _ = trained_with(ROOT / args.model)
    data = ROOT / args.data
    items = read_table(data / "items.parquet")
    valid = read_table(data / "valid.parquet").head(args.users).reset_index(drop=True)
    model, tokenizer = load_backbone(ROOT / args.model)
    model.eval()
    templates = stage_templates(trained.templates, "evaluate")
    text = ItemText.build(items, None, prompt_category(data))
    shuffled = valid.copy()
    shuffled["history"] = valid["history"].sample(frac=1.0, random_state=0).to_numpy()
    max_length = model.config.max_position_embeddings
    own = target_logps(model, tokenizer, valid, text, templates, trained.prompt_history, max_length)
    other = target_logps(model, tokenizer, shuffled, text, templates, trained.prompt_history, max_length)
    diff = paired_difference(own, other, valid["user_id"].to_numpy())
    print(f"{len(valid)} valid rows, {args.model}")
    print(f"mean log p(target title | own history):     {own.mean():8.3f}")
    print(f"mean log p(target title | another history): {other.mean():8.3f}")
    print(f"own - another: {diff}")
    print(f"rows where the own history gives the target the higher likelihood: {(own > other).mean():.1%}")


if __name__ == "__main__":
    main()
