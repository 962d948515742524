"""Evaluation: sharded = unsharded, collision-corrected metrics, MostPop, and bad input before generation."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE_INDEX

from genrec.config import read_yaml
from genrec.errors import GenrecError
from genrec.evaluate.constrained import SIDTrie
from genrec.evaluate.predict import EvalSettings, check_split, predict_split
from genrec.evaluate.scoring import merge_shards, score, write_predictions
from genrec.io import read_table
from genrec.models.backbone import BackboneSpec, build_tiny_backbone
from genrec.models.baselines.mostpop import most_popular
from genrec.models.sid_vocab import add_sid_tokens, index_tokens, sid_token_ids
from genrec.prompts import ItemText, stage_templates
from genrec.tokenize.index import read_index

TEMPLATES = read_yaml(ROOT / "config" / "config.yaml")["prompts"]["short"]


@pytest.fixture(scope="module")
def setup(prepared_sample, tmp_path_factory):
    items = read_table(prepared_sample / "items.parquet")
    index = read_index(SAMPLE_INDEX, n_items=len(items))
    spec = BackboneSpec.named("tiny", {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 2,
                                             "intermediate_size": 64, "text_vocab_size": 400})
    model, tokenizer = build_tiny_backbone(spec, items["title"].tolist(), seed=0)
    add_sid_tokens(model, tokenizer, index_tokens(index), init="random")
    model.eval()
    test = read_table(prepared_sample / "test.parquet").iloc[:150]
    return model, tokenizer, items, index, test


def records_of(setup, shards: int, batch_size: int = 16, mask_history: bool = False) -> list[dict]:
    model, tokenizer, items, index, test = setup
    trie = SIDTrie(sid_token_ids(tokenizer, index))
    settings = EvalSettings(num_beams=20, batch_size=batch_size, precision="float32", mask_history=mask_history)
    out = []
    for shard in range(shards):
        out += predict_split(model, tokenizer, test, ItemText.build(items, index), stage_templates(TEMPLATES, "evaluate"), trie, settings, 20,
                             shard, shards)
    return sorted(out, key=lambda r: r["row"])


def test_sharded_predictions_equal_the_unsharded_run(setup):
    whole = records_of(setup, shards=1)
    assert records_of(setup, shards=3) == whole
    assert len(whole) == 150 and all(r["invalid"] == 0 and len(set(r["sids"])) == 20 for r in whole)
    sizes = np.ones(4344, dtype=int)
    assert score(records_of(setup, shards=2), sizes, (1, 5, 10)) == score(whole, sizes, (1, 5, 10))


def test_mask_history_keeps_every_history_item_out_of_generated_lists(setup):
    """With `mask_history` no generated SID is one of the row's history items (the split's whole history, not only
    what the prompt shows); without it the untrained model does recommend history items (MiniOneRec's default)."""
    _, _, items, index, test = setup
    group = {}
    for item, sid in index.items():
        group.setdefault(tuple(sid), set()).add(int(item))
    masked, plain = records_of(setup, 1, mask_history=True), records_of(setup, 1)
    for record, history in zip(masked, test["history"]):
        banned = set().union(*(group[tuple(index[int(i)])] for i in history))
        assert not banned & set(record["items"]) and len(record["sids"]) == 20 and record["invalid"] == 0
    repeats = sum(bool(set(r["items"]) & set(h)) for r, h in zip(plain, test["history"]))
    assert repeats > 0


def test_predict_and_evaluate_commands_mask_history_and_record_it(setup, prepared_sample, tmp_path):
    """The rules' commands with `evaluate.mask_history: true`: two shards, then the merge, on 300 real users."""
    from conftest import as_trained, first_users

    from genrec.cli import main
    from genrec.settings import EvaluateJob, Run

    model, tokenizer, _, index, _ = setup
    model.save_pretrained(tmp_path / "ckpt")
    tokenizer.save_pretrained(tmp_path / "ckpt")
    data = first_users(prepared_sample, tmp_path / "data")
    index_path = tmp_path / "index.json"
    index_path.write_text(json.dumps({str(k): v for k, v in index.items()}))
    checkpoint = as_trained(tmp_path / "ckpt", index_path, TEMPLATES)
    evaluate = EvalSettings(num_beams=20, batch_size=64, shards=2, mask_history=True)
    shards = [tmp_path / f"sft.test.shard{s}.jsonl" for s in (0, 1)]
    for shard, out in enumerate(shards):
        assert main(["predict", "--model", str(checkpoint), "--data", str(data), "--settings", evaluate.to_json(),
                     "--shard", str(shard), "--out", str(out)]) == 0
    job = EvaluateJob(evaluate, Run(dataset="sample", stage="sft", method="minionerec", seed=42, tokenizer="rqvae",
                                    backbone="tiny"), provenance={})
    assert main(["evaluate", "--predictions", *map(str, shards), "--data", str(data), "--model", str(checkpoint),
                 "--settings", job.to_json(), "--out-predictions", str(tmp_path / "sft.jsonl"),
                 "--out-metrics", str(tmp_path / "sft.json")]) == 0
    metrics = json.loads((tmp_path / "sft.json").read_text())
    test = read_table(data / "test.parquet")
    assert (metrics["mask_history"], metrics["precision"], metrics["n_rows"]) == (True, "float32", len(test))
    records = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert not any(set(r["items"]) & set(h) for r, h in zip(records, test["history"]))


@pytest.fixture
def time_rows():
    """A test split in time_811's shape: user 7 has three rows, user 3 two, user 5 one."""
    return pd.DataFrame({"user_id": [7, 3, 7, 5, 7, 3], "history": [[1], [2], [1, 4], [6], [1, 4, 8], [2, 9]],
                         "target": [4, 9, 8, 0, 2, 1], "timestamp": [1, 2, 3, 4, 5, 6]})


def shard_files(tmp_path, rows: pd.DataFrame, shards: list[list[int]]) -> list:
    paths = []
    for s, members in enumerate(shards):
        records = [{"row": r, "user_id": int(rows["user_id"][r]), "target": int(rows["target"][r]),
                    "target_sid": str(rows["target"][r]), "sids": ["1", "2"], "items": [1, 2], "invalid": 0}
                   for r in members]
        write_predictions(records, tmp_path / f"s.shard{s}.jsonl")
        paths.append(tmp_path / f"s.shard{s}.jsonl")
    return paths


def test_merge_keys_rows_and_counts_rows_and_users_apart(tmp_path, time_rows):
    merged = merge_shards(shard_files(tmp_path, time_rows, [[0, 2, 4], [1, 3, 5]]), time_rows, "test")
    assert [r["row"] for r in merged] == list(range(6)) and [r["user_id"] for r in merged] == [7, 3, 7, 5, 7, 3]
    out = score(merged, np.ones(10, dtype=int), (1, 2))
    assert (out["n_rows"], out["n_users"]) == (6, 3)


def test_merge_names_a_missing_row(tmp_path, time_rows):
    with pytest.raises(GenrecError, match=r"(?s)1 of the 6 rows of the test split have no prediction: row 4 \(user 7\)"
                                          r".*re-run every predict_shard job"):
        merge_shards(shard_files(tmp_path, time_rows, [[0, 2], [1, 3, 5]]), time_rows, "test")


def test_merge_names_a_duplicated_row(tmp_path, time_rows):
    paths = shard_files(tmp_path, time_rows, [[0, 2, 4], [1, 3, 4, 5]])
    with pytest.raises(GenrecError, match=r"(?s)row 4 of the test split \(user 7\) is predicted twice, in .*shard0.jsonl "
                                          r"and .*shard1.jsonl.*re-run its predict_shard jobs"):
        merge_shards(paths, time_rows, "test")


def test_merge_refuses_predictions_of_another_split(tmp_path, time_rows):
    paths = shard_files(tmp_path, time_rows, [[0, 1, 2, 3, 4, 5]])
    other = time_rows.assign(user_id=[7, 3, 5, 7, 7, 3])
    with pytest.raises(GenrecError, match="row 2 of .* is for user 7, but the test split has user 5 there"):
        merge_shards(paths, other, "test")


def record(target: int, target_sid: str, sids: list[str]) -> dict:
    return {"user_id": target, "target": target, "target_sid": target_sid, "sids": sids, "invalid": 0}


def test_metrics_on_hand_made_rankings():
    records = [record(0, "A", ["A", "B", "C"]), record(1, "B", ["C", "B", "A"]), record(2, "C", ["A", "B", "D"])]
    out = score(records, np.ones(3, dtype=int), (1, 3))
    assert out["metrics"]["hr@1"] == pytest.approx(1 / 3)
    assert out["metrics"]["hr@3"] == pytest.approx(2 / 3)
    assert out["metrics"]["ndcg@3"] == pytest.approx((1 + 1 / np.log2(3)) / 3, abs=1e-6)
    assert "metrics_collision_corrected" not in out


def test_collision_corrected_metrics_on_a_collided_index():
    """Items 0 and 1 share SID "X" (G = 2); item 2 owns "Y". Hitting "X" counts 1/2 for the item level."""
    records = [record(0, "X", ["X", "Y"]), record(2, "Y", ["Y", "X"]), record(1, "X", ["Y", "X"])]
    out = score(records, np.array([2, 2, 1]), (1, 2))
    assert out["metrics"]["hr@1"] == pytest.approx(2 / 3)
    corrected = out["metrics_collision_corrected"]
    assert corrected["hr@1"] == pytest.approx((0.5 + 1) / 3)
    assert corrected["hr@2"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert corrected["ndcg@2"] == pytest.approx((0.5 + 1 + 0.5 / np.log2(3)) / 3)


def test_mostpop_ranks_by_training_popularity():
    train = pd.DataFrame({"user_id": [0, 0, 1, 1, 2], "history": [[1], [1, 2], [3], [3, 2], [0]],
                          "target": [2, 4, 2, 4, 4]})
    assert most_popular(train, 6, 4).tolist() == [4, 2, 0, 1]       # ties by item id


def test_beam_width_below_largest_k_is_refused():
    with pytest.raises(GenrecError, match="beam width 5 is below the largest K = 10"):
        EvalSettings(num_beams=5, ks=(1, 5, 10))


def test_split_outside_the_index_or_empty_is_refused(setup):
    _, _, items, _, test = setup
    with pytest.raises(GenrecError, match="the index covers items 0..9"):
        check_split(test, 10, "test.parquet")
    with pytest.raises(GenrecError, match="split is empty"):
        check_split(test.iloc[:0], len(items), "test.parquet")


def test_predict_with_a_checkpoint_lacking_sid_tokens_fails_cleanly(setup, prepared_sample, tmp_path):
    _, tokenizer, items, _, _ = setup
    model, plain = build_tiny_backbone(BackboneSpec.named("tiny", {"hidden_size": 16, "num_layers": 1,
                                       "num_heads": 2, "num_kv_heads": 2, "intermediate_size": 32,
                                       "text_vocab_size": 300}), items["title"].tolist(), seed=0)
    from conftest import as_trained

    model.save_pretrained(tmp_path / "ckpt")
    plain.save_pretrained(tmp_path / "ckpt")
    as_trained(tmp_path / "ckpt", SAMPLE_INDEX, TEMPLATES)
    out = tmp_path / "pred.jsonl"
    run = subprocess.run([sys.executable, "-m", "genrec", "predict", "--model", str(tmp_path / "ckpt"), "--data",
                          str(prepared_sample), "--settings", EvalSettings().to_json(), "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert "vocabulary lacks" in run.stderr and "Traceback" not in run.stderr
    assert not out.exists() and not list(tmp_path.glob(".pred*"))
