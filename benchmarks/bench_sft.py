"""SFT per row vs per sequence on the bundled sample: speed per epoch and valid quality after the same epochs.

Trains the quickstart's tiny backbone twice through Snakemake, identical but for `sft.seq_rec_mode`
(`row`: one example per training row; `sequence`: one per window of a user's sequence, every target in one
pass, genrec/sft/sequences.py), both on the `sequence` prompt set, and scores each on the valid split. Prints:

- examples and real (unpadded) tokens per epoch, seconds per epoch (evaluation excluded; `training.json`'s
  `epoch_seconds`), tokens/s, and the row / sequence ratio of seconds per epoch;
- valid NDCG@10 and HR@10 of each, and sequence - row NDCG@10 with a paired bootstrap 95 % interval (the same
  valid rows answer both; users resampled with their rows).

Both run the quickstart's `tiny` backbone as config/config.yaml defines it (its text vocabulary; sequence mode at
its own batch of windows, row mode at `sft.batch_size` rows); the options override that.

Run: .venv/bin/python benchmarks/bench_sft.py [--epochs 6] [--sequence-batch-size 64] [--text-vocab 300]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

from genrec.config import load_config
from genrec.report.compare import paired_runs
from genrec.settings import backbone, sft_training

ROOT = Path(__file__).resolve().parents[1]


def quickstart_tiny() -> dict:
    """What the bench runs by default: the quickstart's `tiny` as config/config.yaml resolves it (its text
    vocabulary and its own SFT batch of windows) and the global `sft.batch_size` for row mode."""
    config = load_config(ROOT / "config" / "config.yaml")
    return {"text_vocab": backbone(config, "tiny").text_vocab_size, "row_batch": sft_training(config, "sft").batch_size,
            "sequence_batch": sft_training(config, "sft", "tiny").batch_size}


def run_mode(mode: str, args: argparse.Namespace, upstream: Path | None = None) -> Path:
    """Train and score one mode; returns its results tree. `upstream`: a tree whose data, embeddings and SID
    index this one reuses, so that the two modes train on the same SIDs."""
    results = Path(args.results) / mode
    results.mkdir(parents=True, exist_ok=True)
    if upstream is not None:
        for part in ("data", "embed", "sid"):
            if not (results / part).exists():
                shutil.copytree(upstream / part, results / part)        # keeps modification times
    batch = args.sequence_batch_size if mode == "sequence" else args.batch_size
    # the mode and batch go in the backbone's own `sft` overlay too: the quickstart's tiny sets them there
    mode_settings = {"seq_rec_mode": mode, "batch_size": batch, "micro_batch_size": batch}
    overrides = {
        "results": str(results),
        "sid_tokenizers": [args.tokenizer],
        "backbones": {"tiny": {"prompts": "sequence", "text_vocab_size": args.text_vocab, "sft": mode_settings}},
        "sft": {**mode_settings, "epochs": args.epochs, "save_every_epochs": 1},
        "rl": {"rewards": []}, "baselines": [],
    }
    if args.separator is not None:          # a separator token after every SID: the next SID is read off it
        overrides["prompts"] = {"sequence": {"sft": {"seq_rec": {
            "prompt": "{history}" + args.separator, "response": "{sid}", "history_separator": args.separator}}}}
    config = results / "bench-sft.yaml"
    config.write_text(yaml.safe_dump(overrides))
    target = results / "metrics" / "sample" / args.tokenizer / "tiny" / "sft.valid.json"
    subprocess.run([sys.executable, "-m", "snakemake", str(target), "--cores", str(args.cores),
                    "--configfile", str(ROOT / "config" / "config.yaml"), str(config), "--rerun-triggers", "mtime"],
                   cwd=ROOT, check=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=str(ROOT / "results" / "bench-sft"))
    parser.add_argument("--tokenizer", default="rqvae")
    quickstart = quickstart_tiny()
    parser.add_argument("--epochs", type=float, default=6)
    parser.add_argument("--batch-size", type=int, default=quickstart["row_batch"],
                        help="row mode: rows per optimizer step (default: config.yaml's sft.batch_size)")
    parser.add_argument("--sequence-batch-size", type=int, default=quickstart["sequence_batch"],
                        help="sequence mode: windows per optimizer step, a window holding several rows (default: "
                             "the quickstart tiny's own)")
    parser.add_argument("--text-vocab", type=int, default=quickstart["text_vocab"],
                        help="the tiny backbone's text vocabulary (default: config.yaml's; `sequence` prompts hold "
                             "no text, and the LM head over it is a shared cost of both modes)")
    parser.add_argument("--separator", default=None, help="written after every SID of the `sequence` prompts")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()

    runs = {"row": run_mode("row", args)}
    runs["sequence"] = run_mode("sequence", args, upstream=runs["row"])
    part = Path("sample") / args.tokenizer / "tiny"
    print("| mode | batch | examples / epoch | tokens / epoch | s / epoch | tokens / s | valid NDCG@10 | valid HR@10 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    seconds = {}
    for mode, results in runs.items():
        training = json.loads((results / "models" / part / "sft" / "training.json").read_text())
        valid = json.loads((results / "metrics" / part / "sft.valid.json").read_text())["metrics"]
        if training["sft"]["seq_rec_mode"] != mode:      # an overlay won over the benchmark's setting
            sys.exit(f"{results}: trained in {training['sft']['seq_rec_mode']} mode, not {mode}")
        seconds[mode] = statistics.median(training["epoch_seconds"])
        examples = sum(v for k, v in training["examples"].items() if k != "seq_rec_targets")
        print(f"| {mode} | {training['global_batch']} | {examples:,} | {training['train_tokens']:,} | "
              f"{seconds[mode]:.1f} | {training['train_tokens'] / seconds[mode]:,.0f} | {valid['ndcg@10']:.4f} | "
              f"{valid['hr@10']:.4f} |")
    gain = paired_runs(runs["sequence"] / "predictions" / part / "sft.valid.jsonl",
                       runs["row"] / "predictions" / part / "sft.valid.jsonl", "ndcg@10")
    print(f"\nrow / sequence seconds per epoch: {seconds['row'] / seconds['sequence']:.2f}x (median over "
          f"{args.epochs:g} epochs)")
    print(f"sequence - row valid NDCG@10: {gain['difference']:+.4f} [{gain['ci_low']:+.4f}, {gain['ci_high']:+.4f}] "
          f"(paired 95 % CI, {gain['n_rows']:,} rows)")


if __name__ == "__main__":
    main()
