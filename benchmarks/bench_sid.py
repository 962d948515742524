"""SID construction on the bundled real sample: embedding time, then per tokenizer (with the settings of
config/config.yaml) fit seconds, collision rate before dedup, largest collision group, code-usage entropy.

Targets on a 2-core machine: embedding <= 2 min; rqkmeans <= 10 s; rqvae and rqkmeans_plus <= 3 min each
with a pre-dedup collision rate below 10 % (collision rate = share of items whose SID another item shares).

Run: .venv/bin/python benchmarks/bench_sid.py [--embeddings results/embed/sample/minilm.npy] [--tokenizers ...]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from genrec.config import load_config
from genrec.data.preprocess import preprocess
from genrec.data.spec import load_datasets
from genrec.embed.encode import encode_texts, item_texts
from genrec.settings import encoder
from genrec.settings import tokenizer as tokenizer_settings
from genrec.tokenize.build import build_sid
from genrec.tokenize.index import index_to_codes, read_index
from genrec.tokenize.stats import index_stats

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embeddings", help="reuse this .npy instead of timing the encoder")
    parser.add_argument("--tokenizers", nargs="*", help="default: every tokenizer in config/config.yaml")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = load_config(ROOT / "config" / "config.yaml")
    spec = load_datasets(ROOT / "config" / "datasets.yaml")["sample"]
    items = preprocess(spec, {role: ROOT / raw.path for role, raw in spec.raw.items()}).items

    if args.embeddings:
        x = np.load(args.embeddings)
        print(f"embeddings: reused {args.embeddings} ({x.shape[0]:,} x {x.shape[1]})")
    else:
        x, info = encode_texts(item_texts(items), encoder(config, "minilm"))
        print(f"embedding {info['items']:,} items with {info['model']} ({info['device']}, {info['precision']}, "
              f"max {info['max_seq_length']} tokens): {info['seconds']:.1f} s ({info['items_per_second']:.0f} items/s)")

    print(f"\n{'tokenizer':22} {'fit s':>7} {'collision rate':>15} {'dup rate':>9} {'largest group':>14} "
          f"{'usage entropy':>14}")
    for name, path in {"rqvae_native (LC-Rec)": "rqvae_native", "rkmeans_native (LC-Rec)": "rkmeans_native"}.items():
        codes = index_to_codes(read_index(ROOT / "data/sample/indexes" / f"{path}.index.json.gz"))
        s = index_stats(codes, codes)
        print(f"{name:22} {'-':>7} {s['collision_rate_before']:>15.4f} {s['duplicate_rate_before']:>9.4f} "
              f"{s['largest_group_before']:>14} {s['usage_entropy_normalised_mean']:>14.3f}")
    for name in args.tokenizers or list(config["tokenizers"]):
        tokenizer = tokenizer_settings(config, name)
        started = time.perf_counter()
        _, s = build_sid(tokenizer, x)
        total = time.perf_counter() - started
        print(f"{name:22} {total:>7.1f} {s['collision_rate_before']:>15.4f} {s['duplicate_rate_before']:>9.4f} "
              f"{s['largest_group_before']:>14} {s['usage_entropy_normalised_mean']:>14.3f}", flush=True)
    print("\ncollision rate: items whose SID is shared / items (before dedup); dup rate: 1 - distinct SIDs / items "
          "(LC-Rec's); usage entropy: mean over levels of H(codes) / log2(K)")


if __name__ == "__main__":
    main()
