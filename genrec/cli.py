"""`genrec` command line: the entry points Snakemake rules call. Errors the user can fix are printed as
one clear message (exit status 2), never as a bare traceback."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from genrec.errors import GenrecError

log = logging.getLogger("genrec")


def _raw_files(args: argparse.Namespace, spec) -> dict[str, Path]:
    files = {role: raw.local_path(Path(args.raw_dir)) for role, raw in spec.raw.items()}
    for item in args.raw or []:
        role, _, path = item.partition("=")
        if not path:
            raise GenrecError(f"--raw expects ROLE=PATH, got {item!r}")
        files[role] = Path(path)
    return files


def cmd_preprocess(args: argparse.Namespace) -> None:
    from genrec.config import dataset_spec
    from genrec.data.preprocess import run_preprocess

    spec = dataset_spec(args.dataset, args.datasets)
    stats = run_preprocess(spec, _raw_files(args, spec), args.out)
    log.info("%s: %d users, %d items, %d interactions; splits %s (%.1f s)", spec.name, stats["users"],
             stats["items"], stats["interactions"],
             {k: v["rows"] for k, v in stats["splits"].items()}, stats["seconds"])


def cmd_download(args: argparse.Namespace) -> None:
    from genrec.config import dataset_spec
    from genrec.data.download import download

    spec = dataset_spec(args.dataset, args.datasets)
    if args.role not in spec.raw or not spec.raw[args.role].url:
        raise GenrecError(f"dataset '{spec.name}' has no downloadable raw file '{args.role}'",
                          key=f"datasets.{spec.name}.raw.{args.role}")
    raw = spec.raw[args.role]
    download(raw.url, args.out, raw.sha256)


def cmd_export(args: argparse.Namespace) -> None:
    from genrec.data.export import export_lcrec, export_minionerec
    from genrec.data.preprocess import read_prepared
    from genrec.tokenize.index import read_index

    prepared = read_prepared(args.data)
    if args.format == "lcrec":
        export_lcrec(prepared, args.out, args.name)
    else:
        if not args.index:
            raise GenrecError("the MiniOneRec layout carries SIDs: pass --index PATH (an index.json)")
        export_minionerec(prepared, read_index(args.index, n_items=len(prepared.items)), args.out, args.name)


def _settings(text: str, what: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GenrecError(f"--settings for {what} is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise GenrecError(f"--settings for {what} must be a JSON object")
    return value


def cmd_embed(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from genrec.data.preprocess import read_table
    from genrec.embed.encode import EncoderSpec, check_embeddings, encode_texts, item_texts
    from genrec.io import atomic_outputs

    torch.set_num_threads(args.threads)
    settings = _settings(args.settings, f"encoder {args.name}")
    try:
        spec = EncoderSpec(**settings)
    except TypeError as exc:
        raise GenrecError(f"bad encoder settings ({exc})", key=f"encoders.{args.name}") from None
    items = read_table(args.items)
    vectors, info = encode_texts(item_texts(items), spec)
    check_embeddings(vectors, len(items), args.out)
    info["encoder"] = args.name
    out = Path(args.out)
    with atomic_outputs(out, out.with_suffix(".json")) as (tmp_npy, tmp_json):
        with open(tmp_npy, "wb") as handle:
            np.save(handle, vectors, allow_pickle=False)
        tmp_json.write_text(json.dumps(info, indent=2) + "\n")
    log.info("embedded %d items with %s in %.1f s (%s, %s)", len(items), spec.model, info["seconds"],
             info["device"], info["precision"])


def cmd_tokenize(args: argparse.Namespace) -> None:
    import torch

    from genrec.data.preprocess import read_table
    from genrec.embed.encode import load_embeddings
    from genrec.io import atomic_outputs
    from genrec.tokenize.build import TokenizerSpec, build_sid

    torch.set_num_threads(args.threads)
    spec = TokenizerSpec.from_config(args.name, _settings(args.settings, f"tokenizer {args.name}"))
    n_items = len(read_table(args.items))
    index, stats = build_sid(spec, load_embeddings(args.embeddings, n_items))
    out = Path(args.out_dir)
    with atomic_outputs(out / "index.json", out / "stats.json") as (tmp_index, tmp_stats):
        tmp_index.write_text(json.dumps({str(k): v for k, v in index.items()}))
        tmp_stats.write_text(json.dumps(stats, indent=2) + "\n")


def cmd_sid_stats(args: argparse.Namespace) -> None:
    from genrec.tokenize.index import index_to_codes, read_index
    from genrec.tokenize.stats import index_stats

    for path in args.index:
        codes = index_to_codes(read_index(path, n_items=args.items))
        stats = index_stats(codes, codes)
        print(f"{path}: {stats['items']} items, {stats['levels']} levels, collision rate "
              f"{stats['collision_rate_before']:.4f}, largest group {stats['largest_group_before']}, "
              f"{stats['items_in_collisions_before']} items in collisions, code usage "
              + ", ".join(f"{u['codes_used']}" for u in stats["usage"]))


def cmd_stats(args: argparse.Namespace) -> None:
    from genrec.report.data_stats import stats_table

    print(stats_table([json.loads(Path(p).read_text()) for p in args.stats]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genrec", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("preprocess", help="raw files -> items, interactions, splits, stats.json")
    p.add_argument("--dataset", required=True)
    p.add_argument("--datasets", default="config/datasets.yaml", help="datasets config (default: %(default)s)")
    p.add_argument("--out", required=True, help="output directory, e.g. results/data/sample")
    p.add_argument("--raw-dir", default="results/data/raw", help="where downloaded raw files live")
    p.add_argument("--raw", action="append", metavar="ROLE=PATH", help="override one raw file")
    p.set_defaults(func=cmd_preprocess)

    p = sub.add_parser("download", help="fetch one raw file (resumable, checksum-verified)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--role", required=True, help="raw file role, e.g. reviews or meta")
    p.add_argument("--datasets", default="config/datasets.yaml")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("export", help="write a preprocessed dataset in MiniOneRec's or LC-Rec's layout")
    p.add_argument("--format", choices=["minionerec", "lcrec"], required=True)
    p.add_argument("--data", required=True, help="a preprocessed dataset directory")
    p.add_argument("--out", required=True)
    p.add_argument("--name", required=True, help="file name stem, e.g. Industrial_and_Scientific")
    p.add_argument("--index", help="SID index.json (MiniOneRec layout only)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("embed", help="item text -> float32 embeddings (.npy, row i = item i) + provenance .json")
    p.add_argument("--items", required=True, help="items.parquet")
    p.add_argument("--name", required=True, help="encoder name (a key of the config's `encoders`)")
    p.add_argument("--settings", required=True, help="the encoder's settings as JSON")
    p.add_argument("--out", required=True, help="output .npy")
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("tokenize", help="embeddings -> SID index.json + stats.json")
    p.add_argument("--items", required=True, help="items.parquet")
    p.add_argument("--embeddings", required=True)
    p.add_argument("--name", required=True, help="tokenizer name (a key of the config's `tokenizers`)")
    p.add_argument("--settings", required=True, help="the tokenizer's settings as JSON")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_tokenize)

    p = sub.add_parser("sid-stats", help="collision rate and code usage of SID indexes (ours, MiniOneRec's, LC-Rec's)")
    p.add_argument("index", nargs="+")
    p.add_argument("--items", type=int, help="check the index covers exactly items 0..N-1")
    p.set_defaults(func=cmd_sid_stats)

    p = sub.add_parser("stats", help="print a table of data statistics")
    p.add_argument("stats", nargs="+", help="stats.json files")
    p.set_defaults(func=cmd_stats)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        args.func(args)
    except GenrecError as exc:
        print(f"genrec {args.command}: error: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
