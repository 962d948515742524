"""RL on the bundled sample: wall time of each rl-{reward} stage and whether it beats its SFT starting point.

- time: the rule's wall clock (`results/benchmarks/rl/...tsv`), steps, seconds/step, and the per-step log's
  first/last fraction of groups with a hit, KL and reward;
- quality: valid-split NDCG@10 / HR@10 of SFT and of each RL stage, the RL - SFT difference with a paired
  bootstrap 95 % interval (the same rows answer both; users resampled with their rows), and the test-split
  NDCG@10.

Run after the RL rules with valid-split scoring (`rl.compare_on_valid`, on in config/experiments/cpu-full.yaml):
  .venv/bin/python benchmarks/bench_rl.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from genrec.report.compare import paired_runs

ROOT = Path(__file__).resolve().parents[1]


def mean_of(rows: list[dict], key: str, part: slice) -> float:
    values = [r[key] for r in rows[part] if r.get(key) is not None]
    return float(np.mean(values)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=str(ROOT / "results"))
    parser.add_argument("--dataset", default="sample")
    args = parser.parse_args()
    results = Path(args.results)
    found = sorted((results / "models" / args.dataset).glob("*/*/rl-*"))
    if not found:
        raise SystemExit(f"no RL model under {results}/models/{args.dataset}: run the rl rules first")
    print("| model | wall s | steps | s/step | groups with a hit (first 8 → last 8 steps) | KL (last 8) | "
          "valid NDCG@10 | valid HR@10 | Δ NDCG@10 vs SFT [paired 95 % CI] | test NDCG@10 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    shown = set()
    for model_dir in found:
        tokenizer, backbone, stage = model_dir.parts[-3:]
        metrics = results / "metrics" / args.dataset / tokenizer / backbone
        predictions = results / "predictions" / args.dataset / tokenizer / backbone
        if not (predictions / "sft.valid.jsonl").exists() or not (predictions / f"{stage}.valid.jsonl").exists():
            print(f"| {tokenizer}/{backbone}/{stage} | valid predictions missing: build {stage}.valid.json and sft.valid.json |")
            continue
        gain = paired_runs(predictions / f"{stage}.valid.jsonl", predictions / "sft.valid.jsonl", "ndcg@10")
        training = json.loads((model_dir / "training.json").read_text())
        steps = [json.loads(line) for line in (model_dir / "rl_steps.jsonl").read_text().splitlines()]
        tsv = results / "benchmarks" / "rl" / args.dataset / tokenizer / backbone / f"{stage}.tsv"
        wall = float(tsv.read_text().splitlines()[1].split("\t")[0]) if tsv.exists() else training["seconds"]
        test = json.loads((metrics / f"{stage}.json").read_text())["metrics"] if (metrics / f"{stage}.json").exists() else {}
        sft_test = json.loads((metrics / "sft.json").read_text())["metrics"] if (metrics / "sft.json").exists() else {}
        valid = json.loads((metrics / f"{stage}.valid.json").read_text())["metrics"]
        sft_valid = json.loads((metrics / "sft.valid.json").read_text())["metrics"]
        for name, v, t in (("sft", sft_valid, sft_test), (stage, valid, test)):
            if name == "sft":
                if (tokenizer, backbone) in shown:
                    continue
                shown.add((tokenizer, backbone))
                print(f"| {tokenizer}/{backbone}/sft | – | – | – | – | – | {v['ndcg@10']:.4f} | {v['hr@10']:.4f} | – | "
                      f"{t.get('ndcg@10', float('nan')):.4f} |")
                continue
            print(f"| {tokenizer}/{backbone}/{stage} | {wall:.0f} | {training['steps']} | {wall / training['steps']:.1f} | "
                  f"{mean_of(steps, 'group_hit_rate', slice(0, 8)):.3f} → {mean_of(steps, 'group_hit_rate', slice(-8, None)):.3f} | "
                  f"{mean_of(steps, 'kl', slice(-8, None)):.4f} | {v['ndcg@10']:.4f} | {v['hr@10']:.4f} | "
                  f"{gain['difference']:+.4f} [{gain['ci_low']:+.4f}, {gain['ci_high']:+.4f}] | "
                  f"{t.get('ndcg@10', float('nan')):.4f} |")


if __name__ == "__main__":
    main()
