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
    """The raw file of each role the dataset declares, from --raw ROLE=PATH (the rule passes every one)."""
    files = {}
    for item in args.raw:
        role, _, path = item.partition("=")
        if not path:
            raise GenrecError(f"--raw expects ROLE=PATH, got {item!r}")
        files[role] = Path(path)
    missing = sorted(set(spec.raw) - set(files))
    if missing:
        raise GenrecError(f"no raw file given for role(s) {missing} of dataset '{spec.name}'",
                          fix="pass --raw ROLE=PATH for each (the preprocess rule does)")
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
    download(raw.url, args.out, raw.sha256, lock=args.lock)


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


def cmd_embed(args: argparse.Namespace) -> None:
    import torch

    from genrec.embed.encode import EncoderSpec, check_embeddings, encode_texts, item_texts, write_embeddings
    from genrec.io import read_table

    torch.set_num_threads(args.threads)
    spec = EncoderSpec.from_json(args.settings, key=f"encoders.{args.name}")
    items = read_table(args.items)
    vectors, info = encode_texts(item_texts(items, spec.text_fields, f"encoders.{args.name}.text_fields"), spec)
    check_embeddings(vectors, len(items), args.out)
    info["encoder"] = args.name
    write_embeddings(vectors, info, args.out)
    log.info("embedded %d items with %s in %.1f s (%s, %s)", len(items), spec.model, info["seconds"],
             info["device"], info["precision"])


def cmd_tokenize(args: argparse.Namespace) -> None:
    import torch

    from genrec.embed.encode import load_embeddings
    from genrec.io import atomic_outputs, read_table
    from genrec.tokenize.build import TokenizerSpec, build_sid
    from genrec.tokenize.index import index_json

    torch.set_num_threads(args.threads)
    spec = TokenizerSpec.from_json(args.settings)
    n_items = len(read_table(args.items))
    if spec.reads_interactions:
        if not args.train:
            raise GenrecError(f"method {spec.method} builds IDs from the training split: pass --train")
        from genrec.data.sequences import user_sequences

        sequences = [s.items for s in user_sequences(read_table(args.train))]
        built = build_sid(spec, sequences=sequences, n_items=n_items, with_state=bool(args.out_model))
    else:
        if not args.embeddings:
            raise GenrecError(f"method {spec.method} quantises item vectors: pass --embeddings")
        collaborative = load_embeddings(args.collaborative, n_items) if args.collaborative else None
        built = build_sid(spec, load_embeddings(args.embeddings, n_items), collaborative,
                          with_state=bool(args.out_model))
    index, stats = built[:2]
    out = Path(args.out_dir)
    targets = [out / "index.json", out / "stats.json"] + ([args.out_model] if args.out_model else [])
    with atomic_outputs(*targets) as temps:
        temps[0].write_text(index_json(index))
        temps[1].write_text(json.dumps(stats, indent=2) + "\n")
        if args.out_model:
            torch.save(built[2], temps[2])


def cmd_import_index(args: argparse.Namespace) -> None:
    from genrec.io import atomic_outputs, read_table
    from genrec.tokenize.build import TokenizerSpec, method_params
    from genrec.tokenize.imported import import_index
    from genrec.tokenize.index import index_json

    spec = TokenizerSpec.from_json(args.settings)
    index, stats = import_index(method_params(spec), args.dataset, read_table(args.items), f"tokenizers.{spec.name}")
    stats |= {"tokenizer": spec.name, "method": spec.method}
    out = Path(args.out_dir)
    with atomic_outputs(out / "index.json", out / "stats.json") as (tmp_index, tmp_stats):
        tmp_index.write_text(index_json(index))
        tmp_stats.write_text(json.dumps(stats, indent=2) + "\n")


def cmd_openonerec_data(args: argparse.Namespace) -> None:
    from genrec.data.prepared import read_prepared
    from genrec.openonerec.data import chat_samples, pretrain_segments, write_openonerec_data
    from genrec.openonerec.settings import OpenOneRecData
    from genrec.tokenize.index import read_index

    settings = OpenOneRecData.from_json(args.settings, key="openonerec")
    prepared = read_prepared(args.data)
    index = read_index(args.index, n_items=len(prepared.items))
    segments = pretrain_segments(prepared.splits["train"], prepared.items, index, settings)
    chat = chat_samples(prepared.splits, prepared.items, index, settings)
    write_openonerec_data(segments, chat, args.out_segments, args.out_chat)
    log.info("OpenOneRec data: %d segments (%s), %d chat samples (%s)", len(segments),
             segments["source"].value_counts().to_dict(), len(chat), chat.groupby(["source", "split"]).size().to_dict())


def cmd_general_text(args: argparse.Namespace) -> None:
    from genrec.openonerec.data import write_openonerec_data
    from genrec.openonerec.general import general_data
    from genrec.openonerec.settings import GeneralText

    settings = GeneralText.from_json(args.settings)
    segments, chat = general_data(settings.corpus, settings.heldout_percent, settings.valid_percent)
    write_openonerec_data(segments, chat, args.out_segments, args.out_chat)
    log.info("general text %s: %d segments, %d chats (%s)", settings.corpus, len(segments), len(chat),
             chat["split"].value_counts().to_dict())


def cmd_openonerec_pretrain(args: argparse.Namespace) -> None:
    import torch

    from genrec.data.prepared import read_prepared
    from genrec.embed.encode import item_texts
    from genrec.io import read_table
    from genrec.openonerec.pretrain import run_base, run_pretrain
    from genrec.openonerec.settings import BASE, OpenOneRecJob
    from genrec.tokenize.index import read_index

    job = OpenOneRecJob.from_json(args.settings)
    torch.set_num_threads(args.threads)
    prepared = read_prepared(args.data)
    general = read_table(args.general)
    if args.stage == BASE:
        info = run_base(job, general, item_texts(prepared.items), args.out, args.work)
    else:
        if not (args.model and args.segments and args.index):
            raise GenrecError(f"stage {args.stage} reads the model before it, the recommendation segments and the "
                              "SID index", fix="pass --model, --segments and --index")
        index = read_index(args.index, n_items=len(prepared.items))
        info = run_pretrain(args.stage, job, args.model, read_table(args.segments), general, prepared.splits["valid"],
                            index, args.out, args.work)
    if info.get("trained", True):
        log.info("%s done: %d steps, %.1f epochs, best valid loss %.4f, %.0f s", args.stage, info["steps"],
                 info["epochs_run"], info["best_eval_loss"] or float("nan"), info["seconds"])


def cmd_openonerec_sft(args: argparse.Namespace) -> None:
    import torch

    from genrec.openonerec.data import CHAT_SCHEMA, read_openonerec_table
    from genrec.openonerec.settings import OpenOneRecJob
    from genrec.openonerec.sft import run_chat_sft
    from genrec.tokenize.index import read_index

    job = OpenOneRecJob.from_json(args.settings)
    torch.set_num_threads(args.threads)
    info = run_chat_sft(job, args.model, read_openonerec_table(args.chat, CHAT_SCHEMA),
                        read_openonerec_table(args.general, CHAT_SCHEMA), read_index(args.index), args.out, args.work)
    log.info("chat SFT done: %d steps, %.1f epochs, best valid loss %.4f, %.0f s", info["steps"], info["epochs_run"],
             info["best_eval_loss"] or float("nan"), info["seconds"])


def cmd_openonerec_distill(args: argparse.Namespace) -> None:
    import torch

    from genrec.openonerec.data import CHAT_SCHEMA, read_openonerec_table
    from genrec.openonerec.distill import run_distill
    from genrec.openonerec.settings import OpenOneRecJob

    job = OpenOneRecJob.from_json(args.settings)
    torch.set_num_threads(args.threads)
    info = run_distill(job, args.model, args.teacher, read_openonerec_table(args.general, CHAT_SCHEMA), args.out,
                       args.work)
    log.info("distillation done: %d prompts, %d steps, train loss (reverse KL) %.4f, %.0f s", info["prompts"],
             info["steps"], info["train_loss"], info["seconds"])


def cmd_openonerec_tasks(args: argparse.Namespace) -> None:
    import torch

    from genrec.data.prepared import prompt_category
    from genrec.evaluate.predict import check_split
    from genrec.evaluate.scoring import write_predictions
    from genrec.evaluate.settings import EvalSettings
    from genrec.io import atomic_outputs, read_table
    from genrec.models.backbone import load_backbone
    from genrec.models.checkpoint import trained_with
    from genrec.models.sid_vocab import sid_trie
    from genrec.openonerec.data import CHAT_SCHEMA, read_openonerec_table
    from genrec.openonerec.settings import TaskSettings
    from genrec.openonerec.tasks import item_understanding, query_recommendation, query_rows
    from genrec.prompts import ItemText, stage_templates
    from genrec.tokenize.index import read_index

    torch.set_num_threads(args.threads)
    settings, evaluation = TaskSettings.from_json(args.settings), EvalSettings.from_json(args.evaluate)
    trained, index_path = trained_with(args.model)       # decode from the prompts the model was trained on
    templates = stage_templates(trained.templates, "evaluate", f"prompts.{trained.prompts}")
    missing = [task for task in ("item_understand", "query_rec") if task not in templates]
    if index_path is None or missing:
        raise GenrecError(f"this checkpoint records no {missing or 'SID index'} prompt: it is not an OpenOneRec chat "
                          "model", path=args.model, fix="point at an openonerec-sft, -distill or -grpo model")
    data = Path(args.data)
    items, test = read_table(data / "items.parquet"), read_table(data / "test.parquet")
    check_split(test, len(items), str(data / "test.parquet"))
    index = read_index(index_path, n_items=len(items))
    text = ItemText.build(items, index, prompt_category(data))
    model, tokenizer = load_backbone(args.model)
    model.to("cuda" if torch.cuda.is_available() else "cpu")
    records, understanding = item_understanding(model, tokenizer, templates["item_understand"], text, test, settings)
    end = templates["query_rec"].response_tail() if evaluation.score_eos else None     # as next-item evaluation
    trie = sid_trie(tokenizer, index, source=args.model, end=end).to(model.device)
    queries = query_rows(read_openonerec_table(args.chat, CHAT_SCHEMA), "test")
    ranked, query = query_recommendation(model, tokenizer, templates["query_rec"], text, test, queries, trie,
                                         evaluation, trained.prompt_history, settings)
    with atomic_outputs(args.out_understanding, args.out_query, args.out_predictions) as (tmp_u, tmp_q, tmp_p):
        tmp_u.write_text(json.dumps({"model": str(args.model), **understanding, "answers": records}, indent=2) + "\n")
        tmp_q.write_text(json.dumps({"model": str(args.model), **query}, indent=2) + "\n")
        write_predictions(ranked, tmp_p)
    log.info("item understanding: title exact match %.4f over %d items; query-conditioned HR@10 %.4f, NDCG@10 %.4f "
             "over %d rows", understanding["metrics"]["title_exact_match"], understanding["n_items"],
             query["metrics"]["hr@10"], query["metrics"]["ndcg@10"], query["n_rows"])


def cmd_openonerec_perplexity(args: argparse.Namespace) -> None:
    import torch

    from genrec.io import atomic_outputs, read_table
    from genrec.models.backbone import load_backbone
    from genrec.openonerec.perplexity import general_perplexity
    from genrec.openonerec.settings import PerplexitySettings

    settings = PerplexitySettings.from_json(args.settings)
    torch.set_num_threads(args.threads)
    model, tokenizer = load_backbone(args.model)
    if torch.cuda.is_available():
        model.to("cuda")
    result = {"model": str(args.model), **general_perplexity(model, tokenizer, read_table(args.general), settings)}
    with atomic_outputs(args.out) as (tmp,):
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    log.info("general-text perplexity of %s: %.2f [%.2f, %.2f] over %d tokens", args.model, result["perplexity"],
             *result["perplexity_ci95"], result["tokens"])


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
    from genrec.settings import SFTJob
    from genrec.sft.train import run_sft

    job = SFTJob.from_json(args.settings)
    info = run_sft(job.backbone, job.sft, job.prompts.templates, args.data, args.index, args.out, args.work,
                   threads=args.threads)
    log.info("SFT done: %d steps, %.1f epochs, best valid loss %.4f, %.0f s", info["steps"], info["epochs_run"],
             info["best_eval_loss"] or float("nan"), info["seconds"])


def cmd_etegrec(args: argparse.Namespace) -> None:
    import torch

    from genrec.embed.encode import load_embeddings
    from genrec.etegrec.train import train_etegrec
    from genrec.io import read_table
    from genrec.settings import ETEGRecJob

    job = ETEGRecJob.from_json(args.settings)
    data = Path(args.data)
    n_items = len(read_table(data / "items.parquet"))
    state = torch.load(args.tokenizer_model, weights_only=True)
    info = train_etegrec(job.backbone, job.training, state, load_embeddings(args.embeddings, n_items),
                         read_table(data / "train.parquet"), read_table(data / "valid.parquet"),
                         job.prompts.templates, args.out, threads=args.threads)
    log.info("ETEGRec done: %d recommender epochs, best valid NDCG@10 %.4f, %.0f s", info["recommender_epochs"],
             info["best"]["valid_ndcg@10"], info["seconds"])


def cmd_rl(args: argparse.Namespace) -> None:
    from genrec.rl.settings import RLSettings
    from genrec.rl.train import run_rl

    info = run_rl(args.sft_model, args.reward, RLSettings.from_json(args.settings), args.data, args.out, args.work,
                  embeddings=args.embeddings, scorer_dir=args.scorer, threads=args.threads, stage=args.stage)
    log.info("RL (%s) done: %d steps, %.0f s", args.reward, info["steps"], info["seconds"])


def cmd_sdpo(args: argparse.Namespace) -> None:
    from genrec.sdpo.settings import SDPOSettings
    from genrec.sdpo.train import run_sdpo

    info = run_sdpo(args.sft_model, SDPOSettings.from_json(args.settings), args.data, args.out, args.work,
                    threads=args.threads)
    log.info("S-DPO done: %d steps, best valid loss %.4f, %.0f s", info["steps"], info["best_eval_loss"] or float("nan"),
             info["seconds"])


def cmd_predict(args: argparse.Namespace) -> None:
    import time

    import torch

    from genrec.data.prepared import prompt_category
    from genrec.evaluate.predict import check_split, evaluation_precision, predict_split, title_trie
    from genrec.evaluate.scoring import write_predictions
    from genrec.evaluate.settings import EvalSettings
    from genrec.io import atomic_outputs, read_table
    from genrec.models.backbone import load_backbone
    from genrec.models.checkpoint import trained_with
    from genrec.models.sid_vocab import sid_trie
    from genrec.prompts import RECOMMENDATION_TASK, ItemText, stage_templates
    from genrec.tokenize.index import read_index

    started = time.monotonic()
    torch.set_num_threads(args.threads)
    evaluation = EvalSettings.from_json(args.settings)
    trained, index_path = trained_with(args.model)       # decode from the prompts the model was trained on
    data = Path(args.data)
    items = read_table(data / "items.parquet")
    split = read_table(data / f"{args.split}.parquet")
    check_split(split, len(items), str(data / f"{args.split}.parquet"))
    index = read_index(index_path, n_items=len(items)) if index_path is not None else None
    model, tokenizer = load_backbone(args.model)
    templates = stage_templates(trained.templates, "evaluate", f"prompts.{trained.prompts}")
    text = ItemText.build(items, index, prompt_category(data))
    if args.grounding:
        if index is not None:
            raise GenrecError("grounding ranks items by title, but this checkpoint names items by SID",
                              path=args.model, fix="ground a title method's model (the d3 stage's)")
        trie = None
    elif index is None:     # a title method: the trie of every item's title response, EOS included
        trie = title_trie(tokenizer, text.titles, templates[RECOMMENDATION_TASK["title"]])
    else:
        end = templates["seq_rec"].response_tail() if evaluation.score_eos else None
        trie = sid_trie(tokenizer, index, source=args.model, end=end)
    model.to("cuda" if torch.cuda.is_available() else "cpu")
    if args.grounding:      # BIGRec: free generation, then every item ranked by its title's distance
        records = _ground(args, model, tokenizer, split, text, templates, evaluation, trained, data, len(items))
    else:
        trie.to(model.device)
        assistant = None
        if args.guidance_scale is not None and args.guidance_scale != 1.0:      # D3's text-free assistant
            from genrec.models.baselines.scorer import history_scores, load_scorer

            assistant = (history_scores(load_scorer(args.scorer, "D3's assistant")), args.guidance_scale)
        records = predict_split(model, tokenizer, split, text, templates, trie, evaluation, trained.prompt_history,
                                args.shard, evaluation.shards, naming=trained.naming, assistant=assistant)
    out = Path(args.out)
    with atomic_outputs(out, out.with_suffix(".json")) as (tmp, tmp_info):
        write_predictions(records, tmp)
        tmp_info.write_text(json.dumps({"rows": len(records), "seconds": round(time.monotonic() - started, 1),
                                        "shard": args.shard, "shards": evaluation.shards,
                                        "precision": evaluation_precision(evaluation.precision, model.device)}) + "\n")
    log.info("shard %d/%d: %d rows in %.1f s", args.shard + 1, evaluation.shards, len(records), time.monotonic() - started)


def _ground(args: argparse.Namespace, model, tokenizer, split, text, templates, evaluation, trained, data: Path,
            n_items: int) -> list[dict]:
    """BIGRec's prediction records of this shard: generate, ground, and adjust by the prior its settings name."""
    from genrec.models.baselines.scorer import history_scores, load_scorer
    from genrec.evaluate.grounding import ground_split, popularity_prior
    from genrec.evaluate.settings import GroundingSettings
    from genrec.io import read_table

    grounding = GroundingSettings.from_json(args.grounding)
    prior = None
    if grounding.adjustment == "popularity":
        prior = popularity_prior(read_table(data / "train.parquet"), n_items)
    elif grounding.adjustment == "cf":
        prior = history_scores(load_scorer(args.scorer, "grounding's cf adjustment"))
    return ground_split(model, tokenizer, split, text, templates, grounding, evaluation.batch_size,
                        evaluation.num_beams, trained.prompt_history, evaluation.mask_history, prior,
                        args.shard, evaluation.shards)


def _write_metrics(job, split: str, records: list[dict], scored: dict, num_beams: int | None,
                   wall_seconds: dict[str, float], precision: str, out_predictions: str, out_metrics: str) -> None:
    """The predictions JSONL and metrics JSON of a scored split, recording the job's run and provenance."""
    from genrec.evaluate.scoring import write_evaluation
    from genrec.report.metrics_file import metrics_record

    run = job.run
    record = metrics_record(dataset=run.dataset, tokenizer=run.tokenizer, backbone=run.backbone, method=run.method,
                            stage=run.stage, split=split, scored=scored, num_beams=num_beams, config=job.provenance,
                            seed=run.seed, wall_seconds=wall_seconds, mask_history=job.evaluate.mask_history,
                            precision=precision)
    write_evaluation(records, record, out_predictions, out_metrics)
    log.info("%s %s: %s (invalid generations %d)", run.stage, split,
             {k: v for k, v in record["metrics"].items() if k.endswith(f"@{max(job.evaluate.ks)}")},
             record["invalid_generations"])


def cmd_evaluate(args: argparse.Namespace) -> None:
    from genrec.evaluate.scoring import score_shards, shard_timings, shards_precision, wall_seconds
    from genrec.io import read_json, read_table
    from genrec.models.checkpoint import trained_with
    from genrec.prompts import ItemText
    from genrec.settings import EvaluateJob
    from genrec.tokenize.index import read_index

    job = EvaluateJob.from_json(args.settings)
    data = Path(args.data)
    split = read_table(data / f"{args.split}.parquet")
    trained, index_path = trained_with(args.model)
    items = read_table(data / "items.parquet")
    index = read_index(index_path, n_items=len(items)) if index_path is not None else None
    names = ItemText.build(items, index).names(trained.naming)      # what the model ranks: SIDs or titles
    records, scored = score_shards(args.predictions, split, args.split, names, job.evaluate.ks)
    shards = shard_timings(args.predictions)
    _write_metrics(job, args.split, records, scored, job.evaluate.num_beams,
                   wall_seconds(read_json(Path(args.model) / "training.json"), shards), shards_precision(shards),
                   args.out_predictions, args.out_metrics)


def _score_item_ranking(args: argparse.Namespace, job, top_items, top_scores, wall: dict[str, float],
                        history_shown: int | None) -> None:
    """Score an item-id ranking of a split and write its predictions and metrics (MostPop, the baselines)."""
    from genrec.evaluate.scoring import score_item_ranking
    from genrec.io import read_table

    data = Path(args.data)
    records, scored = score_item_ranking(read_table(data / f"{args.split}.parquet"), read_table(data / "items.parquet"),
                                         top_items, top_scores, job.evaluate.ks, history_shown)
    # the baselines rank in float32 on any device (they are small and run on CPU): no beams, one precision
    _write_metrics(job, args.split, records, scored, None, wall, "float32", args.out_predictions, args.out_metrics)


def cmd_mostpop(args: argparse.Namespace) -> None:
    import time

    from genrec.io import read_table
    from genrec.models.baselines.mostpop import most_popular_per_row
    from genrec.models.baselines.train import histories
    from genrec.settings import EvaluateJob

    started = time.monotonic()
    job = EvaluateJob.from_json(args.settings)
    data = Path(args.data)
    n_items = len(read_table(data / "items.parquet"))
    split = read_table(data / f"{args.split}.parquet")
    top = most_popular_per_row(read_table(data / "train.parquet"), n_items, max(job.evaluate.ks), histories(split),
                               mask_history=job.evaluate.mask_history)
    _score_item_ranking(args, job, top, None, {"eval": time.monotonic() - started}, history_shown=None)


def cmd_train_baseline(args: argparse.Namespace) -> None:
    import torch

    from genrec.data.prepared import has_real_timestamps
    from genrec.io import atomic_outputs, read_table
    from genrec.models.baselines.registry import load_model
    from genrec.models.baselines.settings import PRETRAINED
    from genrec.models.baselines.train import train_baseline
    from genrec.settings import BaselineJob

    torch.set_num_threads(args.threads)
    job = BaselineJob.from_json(args.settings)
    data = Path(args.data)
    items = read_table(data / "items.parquet")
    pretrained = load_model(args.name, args.pretrained) if args.pretrained else None
    if pretrained is None and args.name in PRETRAINED:
        raise GenrecError(f"{args.name} fine-tunes a pre-trained model: pass --pretrained (pretrain-baseline's output)")
    model, info = train_baseline(args.name, job.model, len(items), read_table(data / "train.parquet"),
                                 read_table(data / "valid.parquet"), job.training, mask_history=job.mask_history,
                                 items=items, pretrained=pretrained, has_timestamps=has_real_timestamps(data))
    if args.pretrained:
        info["pretrained"] = str(args.pretrained)
    with atomic_outputs(args.out) as (tmp,):
        tmp.unlink()
        model.save_pretrained(tmp)
        (tmp / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    log.info("%s: best valid %s %.4f at epoch %d of %d, %.1f s/epoch, %.0f s", args.name, info["select_metric"],
             info["best_valid"], info["best_epoch"], info["epochs_run"], info["seconds_per_epoch"], info["seconds"])


def cmd_pretrain_baseline(args: argparse.Namespace) -> None:
    import torch

    from genrec.io import atomic_outputs, read_table
    from genrec.models.baselines.pretrain import pretrain_s3rec
    from genrec.models.baselines.registry import build_model
    from genrec.settings import PretrainJob

    torch.set_num_threads(args.threads)
    job = PretrainJob.from_json(args.settings)
    if args.name != "s3rec":
        raise GenrecError(f"baseline '{args.name}' has no pre-training stage", key="--name", fix="use s3rec")
    data = Path(args.data)
    items, train = read_table(data / "items.parquet"), read_table(data / "train.parquet")
    torch.manual_seed(job.seed)
    model = build_model(args.name, job.model, len(items), items=items)
    info = pretrain_s3rec(model, train, job.pretraining, job.seed)
    with atomic_outputs(args.out) as (tmp,):
        tmp.unlink()
        model.save_pretrained(tmp)
        (tmp / "pretraining.json").write_text(json.dumps(info, indent=2) + "\n")
    last = info["log_history"][-1]
    log.info("%s pre-trained: %d epochs, %.0f s, last epoch %s", args.name, info["epochs_run"], info["seconds"], last)


def cmd_evaluate_baseline(args: argparse.Namespace) -> None:
    import time

    import torch

    from genrec.io import read_json, read_table
    from genrec.models.baselines.registry import load_model
    from genrec.models.baselines.train import rank_split
    from genrec.settings import EvaluateJob

    started = time.monotonic()
    torch.set_num_threads(args.threads)
    job = EvaluateJob.from_json(args.settings)
    model = load_model(args.name, args.model)
    split = read_table(Path(args.data) / f"{args.split}.parquet")
    max_length = model.config.max_length
    top, scores = rank_split(model, split, max(job.evaluate.ks), max_length, job.evaluate.mask_history)
    trained = read_json(Path(args.model) / "training.json")
    _score_item_ranking(args, job, top.numpy(), scores.numpy(),
                        {"train": trained["seconds"], "eval": time.monotonic() - started}, history_shown=max_length)


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


def cmd_compare(args: argparse.Namespace) -> None:
    from genrec.report.compare import paired_perplexity, paired_runs

    perplexities = [path.endswith(".perplexity.json") for path in (args.a, args.b)]
    if any(perplexities) and not all(perplexities):
        raise GenrecError(f"{args.a} and {args.b}: a perplexity file pairs only with another perplexity file",
                          fix="compare two .perplexity.json files, or two predictions .jsonl files")
    if all(perplexities):
        ratio = paired_perplexity(Path(args.a), Path(args.b))
        print(f"perplexity: {args.a} / {args.b} = {ratio['ratio']:.3f} [{ratio['ratio_low']:.3f}, "
              f"{ratio['ratio_high']:.3f}] (mean token loss {ratio['difference']:+.4f} [{ratio['ci_low']:+.4f}, "
              f"{ratio['ci_high']:+.4f}] nats; paired bootstrap over conversations, 95 %)")
        return
    paired = paired_runs(Path(args.a), Path(args.b), args.metric)
    print(f"{args.metric}: {args.a} - {args.b} = {paired['difference']:+.4f} "
          f"[{paired['ci_low']:+.4f}, {paired['ci_high']:+.4f}] (paired bootstrap over users, 95 %)")


def cmd_leaderboard(args: argparse.Namespace) -> None:
    from genrec.report.leaderboard import collect_leaderboard, leaderboard_summary, write_leaderboard

    table = collect_leaderboard(args.results)
    write_leaderboard(table, args.out, Path(args.out).with_suffix(".parquet"))
    log.info("%s -> %s (+ .parquet)\n%s", args.results, args.out, leaderboard_summary(table))


def cmd_paper_table(args: argparse.Namespace) -> None:
    from genrec.config import load_config
    from genrec.report import board as lb
    from genrec.report.reported import load_reported, reported_columns, reported_experiments

    reported = load_reported(args.reported)
    board = lb.board_with_reported(args.results, reported)
    config = load_config(args.config)
    experiments = {dataset: (path, load_config(args.config, path))
                   for dataset, path in reported_experiments(args.reported).get(args.paper, {}).items()}
    cells = lb.paper_table(board, args.paper, args.table, config, args.results, str(args.results), experiments)
    if args.dataset:
        cells = cells[cells["dataset"] == args.dataset]
    print(lb.paper_table_report(cells, reported_columns(args.reported).get(args.paper) or lb.metric_columns(board)))


def _training_outputs(p: argparse.ArgumentParser) -> None:
    """The options every resumable training command shares."""
    p.add_argument("--out", required=True, help="final model directory")
    p.add_argument("--work", required=True, help="checkpoint directory (kept across interruptions, for resuming)")
    p.add_argument("--threads", type=int, default=2)


def _fields(module: str, name: str) -> str:
    """A settings class with its fields and defaults, for --help (imported only to build the help text)."""
    import importlib

    return getattr(importlib.import_module(module), name).describe()


def _evaluate_job_help() -> str:
    return (f"JSON of {_fields('genrec.settings', 'EvaluateJob')}, with "
            f"{_fields('genrec.evaluate.settings', 'EvalSettings')} and {_fields('genrec.settings', 'Run')}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genrec", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("preprocess", help="raw files -> items, interactions, splits, stats.json")
    p.add_argument("--dataset", required=True)
    p.add_argument("--datasets", required=True, help="the datasets file (config `datasets_file`)")
    p.add_argument("--out", required=True, help="output directory, e.g. results/data/sample")
    p.add_argument("--raw", action="append", required=True, metavar="ROLE=PATH", help="the raw file of one role")
    p.set_defaults(func=cmd_preprocess)

    p = sub.add_parser("download", help="fetch one raw file (resumable, checksum-verified)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--role", required=True, help="raw file role, e.g. reviews or meta")
    p.add_argument("--datasets", required=True, help="the datasets file (config `datasets_file`)")
    p.add_argument("--lock", help="url -> sha256 of files without a published checksum (recorded on first download)")
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
    p.add_argument("--settings", required=True, help=f"JSON of {_fields('genrec.embed.encode', 'EncoderSpec')}")
    p.add_argument("--out", required=True, help="output .npy")
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("tokenize", help="embeddings (or the training split) -> SID index.json + stats.json")
    p.add_argument("--items", required=True, help="items.parquet")
    p.add_argument("--embeddings", help="item vectors .npy (every method but sequential and collaborative)")
    p.add_argument("--collaborative", help="a sequential baseline's item embeddings .npy (letter)")
    p.add_argument("--train", help="train.parquet (methods sequential and collaborative)")
    p.add_argument("--settings", required=True, help=f"JSON of {_fields('genrec.tokenize.build', 'TokenizerSpec')}")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--out-model", help="also save the learned tokenizer's model here (torch.save; ETEGRec's start)")
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_tokenize)

    p = sub.add_parser("openonerec-data", help="OpenOneRec's pre-training segments and chat samples (parquet) from a "
                                               "dataset's splits and SID index")
    p.add_argument("--data", required=True, help="a preprocessed dataset directory")
    p.add_argument("--index", required=True, help="the SID index.json its items are written with")
    p.add_argument("--settings", required=True, help=f"JSON of {_fields('genrec.openonerec.settings', 'OpenOneRecData')}")
    p.add_argument("--out-segments", required=True)
    p.add_argument("--out-chat", required=True)
    p.set_defaults(func=cmd_openonerec_data)

    p = sub.add_parser("general-text", help="a general-domain corpus as OpenOneRec's segments and chat (parquet), "
                                            "with a held-out share")
    p.add_argument("--settings", required=True, help=f"JSON of {_fields('genrec.openonerec.settings', 'GeneralText')}")
    p.add_argument("--out-segments", required=True)
    p.add_argument("--out-chat", required=True)
    p.set_defaults(func=cmd_general_text)

    p = sub.add_parser("openonerec-pretrain", help="an OpenOneRec pre-training stage: the base model (a tiny "
                                                   "backbone's general pre-training), stage 1 or stage 2")
    p.add_argument("--stage", required=True, choices=["openonerec-base", "openonerec-align", "openonerec-copretrain"])
    p.add_argument("--data", required=True, help="a preprocessed dataset directory (items; the valid split)")
    p.add_argument("--general", required=True, help="the general corpus's segments.parquet")
    p.add_argument("--segments", help="the recommendation segments.parquet (stages 1 and 2)")
    p.add_argument("--index", help="the SID index.json the segments are written with (stages 1 and 2)")
    p.add_argument("--model", help="the model the stage starts from (stages 1 and 2)")
    p.add_argument("--settings", required=True,
                   help=f"JSON of {_fields('genrec.openonerec.settings', 'OpenOneRecJob')}")
    p.add_argument("--out", required=True)
    p.add_argument("--work", required=True, help="resumable checkpoints (outside --out)")
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_openonerec_pretrain)

    p = sub.add_parser("openonerec-sft", help="OpenOneRec's chat SFT: stage 2's model on the recommendation and "
                                              "general chats")
    p.add_argument("--chat", required=True, help="the recommendation chat.parquet (rule openonerec_data)")
    p.add_argument("--general", required=True, help="the general corpus's chat.parquet")
    p.add_argument("--index", required=True, help="the SID index.json the chats are written with")
    p.add_argument("--model", required=True, help="stage 2's model")
    p.add_argument("--settings", required=True, help=f"JSON of {_fields('genrec.openonerec.settings', 'OpenOneRecJob')}")
    p.add_argument("--out", required=True)
    p.add_argument("--work", required=True, help="resumable checkpoints (outside --out)")
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_openonerec_sft)

    p = sub.add_parser("openonerec-distill", help="OpenOneRec's on-policy distillation: the chat SFT model from the "
                                                  "base model on general prompts (TRL GKD, reverse KL)")
    p.add_argument("--general", required=True, help="the general corpus's chat.parquet (its training prompts)")
    p.add_argument("--model", required=True, help="the chat SFT model (the student)")
    p.add_argument("--teacher", required=True, help="the base model, before stage 1 (the teacher)")
    p.add_argument("--settings", required=True, help=f"JSON of {_fields('genrec.openonerec.settings', 'OpenOneRecJob')}")
    p.add_argument("--out", required=True)
    p.add_argument("--work", required=True, help="resumable checkpoints (outside --out)")
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_openonerec_distill)

    p = sub.add_parser("openonerec-tasks", help="an OpenOneRec chat model's RecIF-style tasks on the test split: item "
                                                "understanding (SID -> title) and query-conditioned recommendation")
    p.add_argument("--model", required=True, help="an openonerec-sft / -distill / -grpo model")
    p.add_argument("--chat", required=True, help="the chat.parquet whose test query chats are asked")
    p.add_argument("--data", required=True, help="the prepared dataset directory (items, test)")
    p.add_argument("--settings", required=True, help=f"JSON of {_fields('genrec.openonerec.settings', 'TaskSettings')}")
    p.add_argument("--evaluate", required=True, help=f"JSON of {_fields('genrec.evaluate.settings', 'EvalSettings')}")
    p.add_argument("--out-understanding", required=True, help="the item-understanding metrics JSON")
    p.add_argument("--out-query", required=True, help="the query-conditioned recommendation metrics JSON")
    p.add_argument("--out-predictions", required=True, help="the query-conditioned rankings (JSONL)")
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_openonerec_tasks)

    p = sub.add_parser("openonerec-perplexity", help="a causal LM's perplexity on a general corpus's held-out text")
    p.add_argument("--model", required=True)
    p.add_argument("--general", required=True, help="the general corpus's segments.parquet")
    p.add_argument("--settings", required=True,
                   help=f"JSON of {_fields('genrec.openonerec.settings', 'PerplexitySettings')}")
    p.add_argument("--out", required=True, help="the perplexity JSON")
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_openonerec_perplexity)

    p = sub.add_parser("import-index", help="a released SID index (MiniOneRec / LC-Rec format) -> index.json + stats.json")
    p.add_argument("--dataset", required=True)
    p.add_argument("--items", required=True, help="items.parquet")
    p.add_argument("--settings", required=True, help=f"JSON of {_fields('genrec.tokenize.build', 'TokenizerSpec')}")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_import_index)

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
    p = sub.add_parser("compare", help="two runs' predictions on the same rows: metric difference, paired interval; "
                                       "or two perplexity files on the same text: perplexity ratio, paired interval")
    p.add_argument("a", help="predictions .jsonl (e.g. predictions/sample/etegrec_rqvae/tiger/etegrec.valid.jsonl), "
                             "or a .perplexity.json")
    p.add_argument("b", help="predictions .jsonl of the same dataset and split (or a .perplexity.json of the same text)")
    p.add_argument("--metric", default="ndcg@10")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("leaderboard", help="every metrics file of a results tree -> leaderboard.csv + .parquet")
    p.add_argument("--results", required=True, help="results root (its metrics/ tree is read)")
    p.add_argument("--out", required=True, help="leaderboard.csv (the .parquet is written beside it)")
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser("paper-table", help="a published table's reproduced rows: reported, reproduced, interval, inside?")
    p.add_argument("--results", default="results", help="results root")
    p.add_argument("--reported", default="config/reported_results.yaml")
    p.add_argument("--config", default="config/config.yaml", help="the base config the experiments stack on")
    p.add_argument("--paper", required=True, help="a key of `sources` in the reported file, e.g. tiger")
    p.add_argument("--table", required=True, help='e.g. "Table 1"')
    p.add_argument("--dataset", help="only this dataset's rows")
    p.set_defaults(func=cmd_paper_table)

    p = sub.add_parser("sft", help="backbone + SID vocabulary + multi-task SFT (HF Trainer) -> save_pretrained dir")
    p.add_argument("--data", required=True, help="a preprocessed dataset directory (items, train, valid)")
    p.add_argument("--index", help="SID index.json; left out, the model learns to name items by title (BIGRec, D3)")
    p.add_argument("--settings", required=True,
                   help=f"JSON of {_fields('genrec.settings', 'SFTJob')}, with "
                        f"{_fields('genrec.models.settings', 'BackboneSpec')}, {_fields('genrec.sft.settings', 'SFTSettings')}"
                        f" and {_fields('genrec.settings', 'PromptSet')}")
    _training_outputs(p)
    p.set_defaults(func=cmd_sft)

    p = sub.add_parser("etegrec", help="ETEGRec: joint RQ-VAE tokenizer + T5 recommender training -> TIGER's checkpoint")
    p.add_argument("--data", required=True, help="the prepared dataset directory (items, train, valid)")
    p.add_argument("--tokenizer-model", required=True, help="the pre-trained RQ-VAE (`tokenize --out-model`)")
    p.add_argument("--embeddings", required=True, help="the item embeddings the RQ-VAE was trained on (.npy)")
    p.add_argument("--settings", required=True, help="JSON of genrec.settings.ETEGRecJob")
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_etegrec)

    p = sub.add_parser("rl", help="GRPO from an SFT checkpoint with constrained rollouts and one reward")
    p.add_argument("--sft-model", required=True, help="the SFT checkpoint (policy start and KL reference)")
    p.add_argument("--reward", required=True, help="rule, ranking, semantic or cf")
    p.add_argument("--data", required=True, help="a preprocessed dataset directory (items, train)")
    p.add_argument("--settings", required=True, help=f"JSON of {_fields('genrec.rl.settings', 'RLSettings')}")
    p.add_argument("--embeddings", help="item embeddings .npy (semantic reward)")
    p.add_argument("--scorer", help="the trained SASRec model directory (cf reward)")
    p.add_argument("--stage", help="the stage the checkpoint records (default rl-REWARD)")
    _training_outputs(p)
    p.set_defaults(func=cmd_rl)

    p = sub.add_parser("sdpo", help="S-DPO (softmax preference optimisation) from a title SFT checkpoint")
    p.add_argument("--sft-model", required=True, help="the title SFT checkpoint (policy start and frozen reference)")
    p.add_argument("--data", required=True, help="a preprocessed dataset directory (items, train, valid)")
    p.add_argument("--settings", required=True, help=f"JSON of {_fields('genrec.sdpo.settings', 'SDPOSettings')}")
    _training_outputs(p)
    p.set_defaults(func=cmd_sdpo)

    p = sub.add_parser("predict", help="constrained beam search for one shard of a split -> predictions JSONL")
    p.add_argument("--model", required=True, help="a checkpoint directory (save_pretrained layout)")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test", choices=["valid", "test"])
    p.add_argument("--settings", required=True, help=f"JSON of {_fields('genrec.evaluate.settings', 'EvalSettings')}")
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--out", required=True, help="predictions .jsonl of this shard (+ a .json with its timing)")
    p.add_argument("--grounding", help=f"JSON of {_fields('genrec.evaluate.settings', 'GroundingSettings')}: rank "
                                       "by BIGRec's grounding of a freely generated title instead of beam search")
    p.add_argument("--guidance-scale", type=float,
                   help="D3's assistant: each step scores g x log p_LLM + (1 - g) x log p_SASRec (1: the LLM alone)")
    p.add_argument("--scorer", help="the SASRec model directory (grounding's `cf` adjustment, D3's assistant)")
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", help="merge prediction shards -> predictions JSONL + metrics JSON")
    p.add_argument("--predictions", nargs="+", required=True, help="the shards' .jsonl files")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test", choices=["valid", "test"])
    p.add_argument("--model", required=True,
                   help="the evaluated checkpoint (its SID index, and its training.json for the wall times)")
    p.add_argument("--settings", required=True, help=_evaluate_job_help())
    p.add_argument("--out-predictions", required=True)
    p.add_argument("--out-metrics", required=True)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("mostpop", help="the most-popular baseline -> predictions JSONL + metrics JSON")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test", choices=["valid", "test"])
    p.add_argument("--settings", required=True, help=_evaluate_job_help())
    p.add_argument("--out-predictions", required=True)
    p.add_argument("--out-metrics", required=True)
    p.set_defaults(func=cmd_mostpop)

    p = sub.add_parser("train-baseline", help="a sequential baseline (SASRec, GRU4Rec, Caser, HGN, FMLP-Rec, BERT4Rec, "
                                              "FDSA, S3-Rec): training with early stopping on valid")
    p.add_argument("--name", required=True, help="sasrec, gru4rec, caser, hgn, fmlprec, bert4rec, fdsa, s3rec or hstu")
    p.add_argument("--data", required=True, help="a preprocessed dataset directory (items, train, valid)")
    p.add_argument("--settings", required=True,
                   help=f"JSON of {_fields('genrec.settings', 'BaselineJob')}; model: the fields of "
                        f"{_fields('genrec.models.baselines.settings', 'SASRecConfig')} (or the other models' "
                        f"configs in that module) less the dataset's sizes; training: "
                        f"{_fields('genrec.models.baselines.settings', 'BaselineTraining')}")
    p.add_argument("--pretrained", help="the model's pre-trained first stage (S3-Rec), from pretrain-baseline")
    p.add_argument("--out", required=True, help="model directory (save_pretrained layout + training.json)")
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_train_baseline)

    p = sub.add_parser("pretrain-baseline", help="S3-Rec's self-supervised pre-training (AAP, MIP, MAP, SP)")
    p.add_argument("--name", required=True, help="s3rec")
    p.add_argument("--data", required=True, help="a preprocessed dataset directory (items, train)")
    p.add_argument("--settings", required=True, help=f"JSON of {_fields('genrec.settings', 'PretrainJob')}")
    p.add_argument("--out", required=True, help="model directory (save_pretrained layout + pretraining.json)")
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_pretrain_baseline)

    p = sub.add_parser("evaluate-baseline", help="full ranking of a split by a trained baseline -> predictions + metrics")
    p.add_argument("--name", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test", choices=["valid", "test"])
    p.add_argument("--settings", required=True, help=_evaluate_job_help())
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
