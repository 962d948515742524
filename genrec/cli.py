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
    from genrec.data.preprocess import run_preprocess
    from genrec.data.spec import dataset_spec

    spec = dataset_spec(args.dataset, args.datasets)
    stats = run_preprocess(spec, _raw_files(args, spec), args.out)
    log.info("%s: %d users, %d items, %d interactions; splits %s (%.1f s)", spec.name, stats["users"],
             stats["items"], stats["interactions"],
             {k: v["rows"] for k, v in stats["splits"].items()}, stats["seconds"])


def cmd_download(args: argparse.Namespace) -> None:
    from genrec.data.download import download
    from genrec.data.spec import dataset_spec

    spec = dataset_spec(args.dataset, args.datasets)
    if args.role not in spec.raw or not spec.raw[args.role].url:
        raise GenrecError(f"dataset '{spec.name}' has no downloadable raw file '{args.role}'",
                          key=f"datasets.{spec.name}.raw.{args.role}")
    raw = spec.raw[args.role]
    download(raw.url, args.out, raw.sha256)


def cmd_export(args: argparse.Namespace) -> None:
    from genrec.data.export import export_lcrec, export_minionerec
    from genrec.data.prepared import read_prepared
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
    import torch

    from genrec.embed.encode import EncoderSpec, check_embeddings, encode_texts, item_texts, write_embeddings
    from genrec.io import read_table

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
    write_embeddings(vectors, info, args.out)
    log.info("embedded %d items with %s in %.1f s (%s, %s)", len(items), spec.model, info["seconds"],
             info["device"], info["precision"])


def cmd_tokenize(args: argparse.Namespace) -> None:
    import torch

    from genrec.embed.encode import load_embeddings
    from genrec.io import atomic_outputs
    from genrec.io import read_table
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


def cmd_sft(args: argparse.Namespace) -> None:
    from genrec.models.backbone import BackboneSpec
    from genrec.sft.train import SFTSettings, run_sft

    settings = _settings(args.settings, f"SFT of backbone {args.backbone}")
    backbone = BackboneSpec.from_config(args.backbone, settings["backbone"])
    templates = settings["prompts"].get(backbone.prompts)
    if templates is None:
        raise GenrecError(f"backbone '{args.backbone}' uses prompt set '{backbone.prompts}', which config "
                          "`prompts` does not define", key=f"backbones.{args.backbone}.prompts")
    info = run_sft(backbone, SFTSettings.from_config(settings["sft"]), templates, args.data, args.index,
                   args.out, args.work, threads=args.threads)
    log.info("SFT done: %d steps, %.1f epochs, best valid loss %.4f, %.0f s", info["steps"], info["epochs_run"],
             info["best_eval_loss"] or float("nan"), info["seconds"])


def cmd_rl(args: argparse.Namespace) -> None:
    from genrec.rl.train import RLSettings, run_rl

    settings = _settings(args.settings, f"RL with reward {args.reward}")
    info = run_rl(args.sft_model, args.reward, RLSettings.from_config(settings["rl"]), settings["prompts"],
                  settings["max_history"], args.data, args.index, args.out, args.work, embeddings=args.embeddings,
                  scorer_dir=args.scorer, threads=args.threads)
    log.info("RL (%s) done: %d steps, %.0f s", args.reward, info["steps"], info["seconds"])


def _eval_settings(settings: dict):
    from genrec.evaluate.predict import EvalSettings

    known = {"num_beams", "length_penalty", "batch_size", "shards", "ks", "precision", "mask_history"}
    values = {k: v for k, v in settings["evaluate"].items() if k in known}
    if "ks" in values:
        values["ks"] = tuple(values["ks"])
    return EvalSettings(**values)


def cmd_predict(args: argparse.Namespace) -> None:
    import time

    from genrec.evaluate.constrained import SIDTrie
    from genrec.evaluate.predict import check_split, evaluation_precision, predict_split
    from genrec.evaluate.scoring import write_predictions
    from genrec.io import atomic_outputs
    from genrec.io import read_table
    from genrec.models.backbone import load_backbone
    from genrec.models.sid_vocab import sid_token_ids
    from genrec.prompts import ItemText
    from genrec.tokenize.index import read_index

    import torch

    started = time.monotonic()
    torch.set_num_threads(args.threads)
    settings = _settings(args.settings, "evaluation")
    evaluation = _eval_settings(settings)
    data = Path(args.data)
    items = read_table(data / "items.parquet")
    split = read_table(data / f"{args.split}.parquet")
    check_split(split, len(items), str(data / f"{args.split}.parquet"))
    index = read_index(args.index, n_items=len(items))
    model, tokenizer = load_backbone(args.model)
    trie = SIDTrie(sid_token_ids(tokenizer, index, source=args.model))
    model.to("cuda" if torch.cuda.is_available() else "cpu")
    trie.to(model.device)
    records = predict_split(model, tokenizer, split, ItemText.build(items, index), settings["prompts"], trie,
                            evaluation, settings["max_history"], args.shard, args.shards)
    out = Path(args.out)
    with atomic_outputs(out, out.with_suffix(".json")) as (tmp, tmp_info):
        write_predictions(records, tmp)
        tmp_info.write_text(json.dumps({"rows": len(records), "seconds": round(time.monotonic() - started, 1),
                                        "shard": args.shard, "shards": args.shards,
                                        "precision": evaluation_precision(evaluation.precision, model.device)}) + "\n")
    log.info("shard %d/%d: %d rows in %.1f s", args.shard + 1, args.shards, len(records), time.monotonic() - started)


def cmd_evaluate(args: argparse.Namespace) -> None:
    import numpy as np

    from genrec.evaluate.scoring import merge_shards, score, write_evaluation
    from genrec.io import read_json
    from genrec.io import read_table
    from genrec.report.metrics_file import metrics_record
    from genrec.tokenize.index import format_sid, read_index

    settings = _settings(args.settings, "evaluation")
    evaluation = _eval_settings(settings)
    data = Path(args.data)
    split = read_table(data / f"{args.split}.parquet")
    index = read_index(args.index, n_items=len(read_table(data / "items.parquet")))
    records = merge_shards(args.predictions, split, args.split)
    sids = [format_sid(index[i]) for i in range(len(index))]
    shared = {sid: n for sid, n in zip(*np.unique(sids, return_counts=True))}
    scored = score(records, np.array([shared[s] for s in sids]), evaluation.ks)
    training = read_json(Path(args.model) / "training.json") if args.model else {}
    shard_info = [read_json(Path(p).with_suffix(".json")) for p in args.predictions]
    shard_seconds = sum(info["seconds"] for info in shard_info)
    precisions = sorted({info.get("precision", "unknown") for info in shard_info})
    if "reward" in training:                      # an RL checkpoint: its SFT came first
        walls = {"sft": training["sft_seconds"], "rl": training["seconds"], "eval": shard_seconds}
    else:
        walls = {"sft": training.get("seconds", 0.0), "eval": shard_seconds}
    record = metrics_record(dataset=settings["dataset"], tokenizer=settings.get("tokenizer"),
                            backbone=settings.get("backbone"), method=settings.get("method", "minionerec"),
                            stage=settings["stage"], split=args.split, scored=scored,
                            num_beams=evaluation.num_beams, config=settings["config"],
                            seed=settings.get("seed", 42), wall_seconds=walls,
                            mask_history=evaluation.mask_history, precision="+".join(precisions))
    write_evaluation(records, record, args.out_predictions, args.out_metrics)
    log.info("%s %s: %s (invalid generations %d)", settings["stage"], args.split,
             {k: record["metrics"][k] for k in ("hr@10", "ndcg@10")}, record["invalid_generations"])


def _write_item_ranking(args: argparse.Namespace, settings: dict, top_items, top_scores, method: str,
                        walls: dict[str, float]) -> None:
    """Score an item-id ranking of a split; write its predictions JSONL and metrics JSON (MostPop, baselines)."""
    import numpy as np

    from genrec.evaluate.scoring import item_ranking_records, score, write_evaluation
    from genrec.io import read_table
    from genrec.report.metrics_file import metrics_record

    data = Path(args.data)
    items = read_table(data / "items.parquet")
    split = read_table(data / f"{args.split}.parquet")
    titles = items["title"].fillna("").astype(str).tolist()
    records = item_ranking_records(split, top_items, top_scores, titles, settings.get("max_history", 50))
    scored = score(records, np.ones(len(items), dtype=int), _ks(settings))
    record = metrics_record(dataset=settings["dataset"], tokenizer=None, backbone=None, method=method, stage=method,
                            split=args.split, scored=scored, num_beams=None, config=settings["config"],
                            seed=settings.get("seed", 0), wall_seconds=walls, mask_history=mask_history(settings),
                            precision="float32")
    write_evaluation(records, record, args.out_predictions, args.out_metrics)
    log.info("%s %s: %s", method, args.split, {k: record["metrics"][k] for k in ("hr@10", "ndcg@10")})


def mask_history(settings: dict) -> bool:
    """The run's one history-masking rule (`evaluate.mask_history`), the same for every model."""
    return bool(settings.get("evaluate", {}).get("mask_history", False))


def _ks(settings: dict) -> tuple[int, ...]:
    from genrec.evaluate.metrics import DEFAULT_KS

    return tuple(settings["evaluate"].get("ks", DEFAULT_KS))


def cmd_mostpop(args: argparse.Namespace) -> None:
    import time

    from genrec.io import read_table
    from genrec.models.baselines.mostpop import most_popular_per_row
    from genrec.models.baselines.train import histories

    started = time.monotonic()
    settings = _settings(args.settings, "mostpop")
    data = Path(args.data)
    n_items = len(read_table(data / "items.parquet"))
    split = read_table(data / f"{args.split}.parquet")
    top = most_popular_per_row(read_table(data / "train.parquet"), n_items, max(_ks(settings)), histories(split),
                               mask_history=mask_history(settings))
    _write_item_ranking(args, settings, top, None, "mostpop", {"eval": time.monotonic() - started})


def cmd_train_baseline(args: argparse.Namespace) -> None:
    import torch

    from genrec.io import atomic_outputs
    from genrec.io import read_table
    from genrec.models.baselines.registry import build_model
    from genrec.models.baselines.train import BaselineTraining, train_sequential

    torch.set_num_threads(args.threads)
    settings = _settings(args.settings, f"baseline {args.name}")
    training = BaselineTraining.from_config(settings["training"])
    data = Path(args.data)
    n_items = len(read_table(data / "items.parquet"))
    model = build_model(args.name, settings["model"], n_items)
    info = train_sequential(model, read_table(data / "train.parquet"), read_table(data / "valid.parquet"), training,
                            mask_history=mask_history(settings))
    with atomic_outputs(args.out) as (tmp,):
        tmp.unlink()
        model.save_pretrained(tmp)
        (tmp / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    log.info("%s: best valid NDCG@10 %.4f at epoch %d of %d, %.1f s/epoch, %.0f s", args.name,
             info["best_valid_ndcg@10"], info["best_epoch"], info["epochs_run"], info["seconds_per_epoch"], info["seconds"])


def cmd_evaluate_baseline(args: argparse.Namespace) -> None:
    import time

    import torch

    from genrec.io import read_json
    from genrec.io import read_table
    from genrec.models.baselines.registry import load_model
    from genrec.models.baselines.sequential import rank_all_items
    from genrec.models.baselines.train import BaselineTraining, histories

    started = time.monotonic()
    torch.set_num_threads(args.threads)
    settings = _settings(args.settings, f"baseline {args.name}")
    training = BaselineTraining.from_config(settings["training"])
    model = load_model(args.name, args.model)
    split = read_table(Path(args.data) / f"{args.split}.parquet")
    max_length = model.config.max_length
    top, scores = rank_all_items(model, histories(split), max(_ks(settings)), max_length,
                                 mask_history=mask_history(settings))
    trained = read_json(Path(args.model) / "training.json")
    _write_item_ranking(args, {**settings, "max_history": max_length, "seed": training.seed}, top.numpy(),
                        scores.numpy(), args.name, {"train": trained["seconds"], "eval": time.monotonic() - started})


def cmd_item_embeddings(args: argparse.Namespace) -> None:
    from genrec.embed.encode import write_embeddings
    from genrec.models.baselines.registry import load_model

    vectors = load_model(args.name, args.model).item_embeddings().float().numpy()
    write_embeddings(vectors, {"encoder": args.name, "kind": "collaborative (trained item embeddings)",
                               "model": str(args.model), "items": len(vectors), "dim": int(vectors.shape[1])}, args.out)
    log.info("%s item embeddings: %d x %d", args.name, *vectors.shape)


def cmd_results(args: argparse.Namespace) -> None:
    from genrec.io import read_json
    from genrec.report.results_table import results_table

    print(results_table([read_json(p) for p in args.metrics]))


def cmd_leaderboard(args: argparse.Namespace) -> None:
    from genrec.report.leaderboard import collect_leaderboard, leaderboard_summary, write_leaderboard

    table = collect_leaderboard(args.results)
    write_leaderboard(table, args.out, Path(args.out).with_suffix(".parquet"))
    log.info("%s -> %s (+ .parquet)\n%s", args.results, args.out, leaderboard_summary(table))


def _training_outputs(p: argparse.ArgumentParser) -> None:
    """The options every resumable training command shares."""
    p.add_argument("--out", required=True, help="final model directory")
    p.add_argument("--work", required=True, help="checkpoint directory (kept across interruptions, for resuming)")
    p.add_argument("--threads", type=int, default=2)


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
    p = sub.add_parser("results", help="print a table of metrics files")
    p.add_argument("metrics", nargs="+", help="metrics .json files")
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("leaderboard", help="every metrics file of a results tree -> leaderboard.csv + .parquet")
    p.add_argument("--results", required=True, help="results root (its metrics/ tree is read)")
    p.add_argument("--out", required=True, help="leaderboard.csv (the .parquet is written beside it)")
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser("sft", help="backbone + SID vocabulary + multi-task SFT (HF Trainer) -> save_pretrained dir")
    p.add_argument("--data", required=True, help="a preprocessed dataset directory (items, train, valid)")
    p.add_argument("--index", required=True, help="SID index.json")
    p.add_argument("--backbone", required=True, help="backbone name (a key of the config's `backbones`)")
    p.add_argument("--settings", required=True, help='JSON: {"backbone": {...}, "sft": {...}, "prompts": {...}}')
    _training_outputs(p)
    p.set_defaults(func=cmd_sft)

    p = sub.add_parser("rl", help="GRPO from an SFT checkpoint with constrained rollouts and one reward")
    p.add_argument("--sft-model", required=True, help="the SFT checkpoint (policy start and KL reference)")
    p.add_argument("--reward", required=True, help="rule, ranking, semantic or cf")
    p.add_argument("--data", required=True, help="a preprocessed dataset directory (items, train)")
    p.add_argument("--index", required=True, help="SID index.json")
    p.add_argument("--settings", required=True, help='JSON: {"rl": {...}, "prompts": {...}, "max_history": N}')
    p.add_argument("--embeddings", help="item embeddings .npy (semantic reward)")
    p.add_argument("--scorer", help="the trained SASRec model directory (cf reward)")
    _training_outputs(p)
    p.set_defaults(func=cmd_rl)

    p = sub.add_parser("predict", help="constrained beam search for one shard of a split -> predictions JSONL")
    p.add_argument("--model", required=True, help="a checkpoint directory (save_pretrained layout)")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test", choices=["valid", "test"])
    p.add_argument("--index", required=True)
    p.add_argument("--settings", required=True, help='JSON: {"evaluate": {...}, "prompts": {...}, "max_history": N}')
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--out", required=True, help="predictions .jsonl of this shard (+ a .json with its timing)")
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", help="merge prediction shards -> predictions JSONL + metrics JSON")
    p.add_argument("--predictions", nargs="+", required=True, help="the shards' .jsonl files")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test", choices=["valid", "test"])
    p.add_argument("--index", required=True)
    p.add_argument("--model", help="the evaluated checkpoint (its training.json gives the SFT wall time)")
    p.add_argument("--settings", required=True,
                   help='JSON: {"evaluate", "dataset", "tokenizer", "backbone", "stage", "config", "seed"}')
    p.add_argument("--out-predictions", required=True)
    p.add_argument("--out-metrics", required=True)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("mostpop", help="the most-popular baseline -> predictions JSONL + metrics JSON")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test", choices=["valid", "test"])
    p.add_argument("--settings", required=True, help='JSON: {"evaluate", "dataset", "config"}')
    p.add_argument("--out-predictions", required=True)
    p.add_argument("--out-metrics", required=True)
    p.set_defaults(func=cmd_mostpop)

    p = sub.add_parser("train-baseline", help="SASRec / GRU4Rec / Caser: full-softmax training with early stopping")
    p.add_argument("--name", required=True, help="sasrec, gru4rec or caser")
    p.add_argument("--data", required=True, help="a preprocessed dataset directory (items, train, valid)")
    p.add_argument("--settings", required=True, help='JSON: {"model": {...}, "training": {...}}')
    p.add_argument("--out", required=True, help="model directory (save_pretrained layout + training.json)")
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_train_baseline)

    p = sub.add_parser("evaluate-baseline", help="full ranking of a split by a trained baseline -> predictions + metrics")
    p.add_argument("--name", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test", choices=["valid", "test"])
    p.add_argument("--settings", required=True, help='JSON: {"training", "evaluate", "dataset", "config"}')
    p.add_argument("--out-predictions", required=True)
    p.add_argument("--out-metrics", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_evaluate_baseline)

    p = sub.add_parser("item-embeddings", help="a trained baseline's item embeddings -> .npy (row i = item i) + .json")
    p.add_argument("--name", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_item_embeddings)
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
