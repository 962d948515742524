"""Evaluation: sharded = unsharded, collision-corrected metrics, MostPop, and bad input before generation."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE_INDEX

from genrec.config import read_yaml
from genrec.data.preprocess import read_table
from genrec.errors import GenrecError
from genrec.evaluate.constrained import SIDTrie
from genrec.evaluate.predict import EvalSettings, check_split, predict_split
from genrec.evaluate.scoring import score
from genrec.models.backbone import BackboneSpec, build_tiny_backbone
from genrec.models.baselines.mostpop import most_popular
from genrec.models.sid_vocab import add_sid_tokens, index_tokens, sid_token_ids
from genrec.sft.tasks import ItemText
from genrec.tokenize.index import read_index

TEMPLATES = read_yaml(ROOT / "config" / "config.yaml")["prompts"]["short"]


@pytest.fixture(scope="module")
def setup(prepared_sample, tmp_path_factory):
    items = read_table(prepared_sample / "items.parquet")
    index = read_index(SAMPLE_INDEX, n_items=len(items))
    spec = BackboneSpec.from_config("tiny", {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 2,
                                             "intermediate_size": 64, "text_vocab_size": 400})
    model, tokenizer = build_tiny_backbone(spec, items["title"].tolist(), seed=0)
    add_sid_tokens(model, tokenizer, index_tokens(index), init="random")
    model.eval()
    test = read_table(prepared_sample / "test.parquet").iloc[:150]
    return model, tokenizer, items, index, test


def records_of(setup, shards: int, batch_size: int = 16) -> list[dict]:
    model, tokenizer, items, index, test = setup
    trie = SIDTrie(sid_token_ids(tokenizer, index))
    settings = EvalSettings(num_beams=20, batch_size=batch_size, precision="float32")
    out = []
    for shard in range(shards):
        out += predict_split(model, tokenizer, test, ItemText.build(items, index), TEMPLATES, trie, settings, 20,
                             shard, shards)
    return sorted(out, key=lambda r: r["user_id"])


def test_sharded_predictions_equal_the_unsharded_run(setup):
    whole = records_of(setup, shards=1)
    assert records_of(setup, shards=3) == whole
    assert len(whole) == 150 and all(r["invalid"] == 0 and len(set(r["sids"])) == 20 for r in whole)
    sizes = np.ones(4344, dtype=int)
    assert score(records_of(setup, shards=2), sizes, (1, 5, 10)) == score(whole, sizes, (1, 5, 10))


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
    model, plain = build_tiny_backbone(BackboneSpec.from_config("tiny", {"hidden_size": 16, "num_layers": 1,
                                       "num_heads": 2, "num_kv_heads": 2, "intermediate_size": 32,
                                       "text_vocab_size": 300}), items["title"].tolist(), seed=0)
    model.save_pretrained(tmp_path / "ckpt")
    plain.save_pretrained(tmp_path / "ckpt")
    out = tmp_path / "pred.jsonl"
    settings = json.dumps({"evaluate": {"num_beams": 20}, "prompts": TEMPLATES, "max_history": 20})
    run = subprocess.run([sys.executable, "-m", "genrec", "predict", "--model", str(tmp_path / "ckpt"), "--data",
                          str(prepared_sample), "--index", str(SAMPLE_INDEX), "--settings", settings, "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert "vocabulary lacks" in run.stderr and "Traceback" not in run.stderr
    assert not out.exists() and not list(tmp_path.glob(".pred*"))
