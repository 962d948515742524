"""Decoding throughput at beam 20 on the bundled sample's test users, with a trained SFT checkpoint.

Compares (users/s, higher is better):
- ours: `genrec.evaluate.beam_search` with the SID trie (prompt cached once per user, per-depth allowed-token
  tables applied to all beams at once);
- ours, unconstrained: the same search with no trie -- the floor a constraint can at best reach;
- HF `generate` + our vectorised `SIDConstraint` logits processor;
- HF `generate`, unconstrained;
- HF `generate` + a per-beam Python `prefix_allowed_tokens_fn` over a dict trie: the common approach
  (kept here only, as the reference).
Targets: ours >= 5x the per-beam reference and within 1.3x of unconstrained.

Run (after `make run`): .venv/bin/python benchmarks/bench_decoding.py [--model results/models/sample/rqvae/tiny/sft]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from genrec.evaluate.beam_search import beam_search, generate_beams
from genrec.evaluate.constrained import SIDTrie
from genrec.evaluate.predict import row_batches
from genrec.io import read_table
from genrec.models.backbone import load_backbone
from genrec.models.checkpoint import trained_with
from genrec.models.sid_vocab import sid_token_ids
from genrec.prompts import ItemText, recommendation_prompt, stage_templates
from genrec.tokenize.index import read_index

ROOT = Path(__file__).resolve().parents[1]


def dict_trie(sids: np.ndarray) -> dict[tuple[int, ...], list[int]]:
    """prefix -> allowed next tokens, the structure `prefix_allowed_tokens_fn` implementations walk."""
    trie: dict[tuple[int, ...], set[int]] = {}
    for row in sids.tolist():
        for depth in range(len(row)):
            trie.setdefault(tuple(row[:depth]), set()).add(row[depth])
    return {prefix: sorted(tokens) for prefix, tokens in trie.items()}


def timed(run, batches: list[list[str]]) -> tuple[float, list]:
    run(batches[0][:2])                                          # warm-up
    started = time.perf_counter()
    out = [run(batch) for batch in batches]
    return sum(len(b) for b in batches) / (time.perf_counter() - started), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="results/models/sample/rqvae/tiny/sft")
    parser.add_argument("--data", default="results/data/sample")
    parser.add_argument("--users", type=int, default=1024, help="test users for the fast methods")
    parser.add_argument("--reference-users", type=int, default=128, help="users for the per-beam reference")
    parser.add_argument("--beams", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    trained, index_path = trained_with(args.model)      # the prompts and SID index the model was trained on
    model, tokenizer = load_backbone(args.model)
    model.eval()
    items = read_table(Path(args.data) / "items.parquet")
    test = read_table(Path(args.data) / "test.parquet")
    index = read_index(index_path, n_items=len(items))
    text = ItemText.build(items, index)
    ids = sid_token_ids(tokenizer, index)
    trie = SIDTrie(ids)
    prompts = [recommendation_prompt(stage_templates(trained.templates, "evaluate"), text, list(h)[-trained.prompt_history:]) for h in test["history"]]
    chosen = np.random.default_rng(0).permutation(len(prompts))[:args.users]
    prompts = [prompts[i] for i in chosen]
    lengths = [len(x) for x in tokenizer(prompts, add_special_tokens=False)["input_ids"]]
    batches = [[prompts[i] for i in b] for b in row_batches(lengths, args.batch_size)]
    few = max(1, args.reference_users // args.batch_size)
    reference_batches = [b for i, b in enumerate(batches) if i % max(1, len(batches) // few) == 0][:few]
    levels, beams = trie.levels, args.beams
    prefixes = dict_trie(ids)

    def per_beam(batch):
        width = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False)["input_ids"].shape[1]

        def allowed(_, sent):                                     # called once per beam per step
            return prefixes.get(tuple(sent[width:].tolist()), [tokenizer.eos_token_id])
        from transformers.generation.logits_process import PrefixConstrainedLogitsProcessor
        return generate_beams(model, tokenizer, batch, trie, beams,
                              processor=PrefixConstrainedLogitsProcessor(allowed, beams))

    with torch.autocast("cpu", dtype=torch.bfloat16):
        methods = {
            "ours (constrained)": (lambda b: beam_search(model, tokenizer, b, trie, beams), batches),
            "ours, unconstrained (floor)": (lambda b: beam_search(model, tokenizer, b, None, beams, levels=levels), batches),
            "HF generate + SIDConstraint": (lambda b: generate_beams(model, tokenizer, b, trie, beams), reference_batches),
            "HF generate + per-beam prefix_allowed_tokens_fn": (per_beam, reference_batches),
        }
        speed, outputs = {}, {}
        for name, (run, data) in methods.items():
            speed[name], outputs[name] = timed(run, data)
            print(f"{name:48} {speed[name]:8.1f} users/s  ({sum(len(b) for b in data)} users)", flush=True)
    ours = speed["ours (constrained)"]
    invalid = sum(int((o.leaves < 0).sum()) for o in outputs["ours (constrained)"])
    print(f"\nours / per-beam reference: {ours / speed['HF generate + per-beam prefix_allowed_tokens_fn']:.1f}x "
          f"(target >= 5x); unconstrained / ours: {speed['ours, unconstrained (floor)'] / ours:.2f}x (target <= 1.3x); "
          f"ours / HF + SIDConstraint: {ours / speed['HF generate + SIDConstraint']:.1f}x; invalid beams of ours: {invalid}")
    same = all(np.array_equal(a.leaves, b.leaves) for a, b in zip(
        outputs["HF generate + SIDConstraint"], outputs["HF generate + per-beam prefix_allowed_tokens_fn"]))
    print(f"per-beam reference and SIDConstraint rank the same SIDs: {same}")


if __name__ == "__main__":
    main()
