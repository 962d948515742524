"""ETEGRec's joint training (genrec/etegrec/): the index stays collision-free as the tokenizer moves the codes,
every Table 4 variant trains, and the checkpoint decodes through the shared TIGER prediction path.

The data are a small synthetic catalogue (clustered item vectors, users walking inside a cluster), so the run takes
seconds; the real sample runs through Snakemake (README, "ETEGRec on the sample")."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from genrec.errors import GenrecError
from genrec.etegrec.joint import sid_vocabulary, unique_codes
from genrec.etegrec.settings import VARIANTS, ETEGRecSettings
from genrec.etegrec.train import CodeTable, Rows, train_etegrec
from genrec.models.settings import BackboneSpec
from genrec.tokenize.rqvae import RQVAEConfig, train_rqvae

TEMPLATES = {"sft": {"seq_rec": {"prompt": "{history}", "response": "{sid}"}}}
BACKBONE = BackboneSpec(name="tiger", kind="t5", prompts="sids", hidden_size=16, num_layers=1, num_heads=2,
                        intermediate_size=32)


def test_extra_token_makes_every_sid_unique_and_keeps_one_length():
    codes = np.array([[1, 2], [1, 2], [0, 3], [1, 2]])
    assert unique_codes(codes, 4).tolist() == [[1, 2, 0], [1, 2, 1], [0, 3, 0], [1, 2, 2]]
    with pytest.raises(GenrecError, match="more than the 2 tokens"):
        unique_codes(codes, 2)
    assert len(sid_vocabulary(2, 4)) == 12 and sid_vocabulary(2, 4)[-1] == "<c_3>"


@pytest.fixture(scope="module")
def catalogue():
    rng = np.random.default_rng(0)
    n_items, clusters = 60, 6
    centres = rng.normal(size=(clusters, 16)) * 3
    cluster = np.arange(n_items) % clusters
    vectors = (centres[cluster] + rng.normal(size=(n_items, 16))).astype(np.float32)
    rows = {"train": [], "valid": []}
    for user in range(80):
        members = np.flatnonzero(cluster == user % clusters)
        sequence = rng.choice(members, size=6, replace=False).tolist()
        for t in range(1, 5):
            rows["train"].append({"user_id": user, "history": sequence[:t], "target": sequence[t]})
        rows["valid"].append({"user_id": user, "history": sequence[:5], "target": sequence[5]})
    cfg = RQVAEConfig(levels=2, codebook_size=8, latent_dim=8, hidden=[16], max_epochs=20, eval_every=10,
                      sinkhorn_epsilon=[0.0, 0.0], level_loss="mean", max_seconds=None)
    pretrained = train_rqvae(vectors, cfg)
    return vectors, pd.DataFrame(rows["train"]), pd.DataFrame(rows["valid"]), pretrained


SHORT = dict(epochs=4, cycle=2, warm_epochs=0, eval_every=2, patience=5, finetune_epochs=1, batch_size=64,
             warmup_steps=0, num_beams=10, eval_batch_size=32, tokenizer_learning_rate=1e-3, sia_weight=0.01,
             psa_weight=0.01)


def test_batches_are_the_prompt_evaluation_decodes(catalogue):
    vectors, train, _, pretrained = catalogue
    from genrec.models.tiger import build_tiger
    from genrec.tokenize.index import codes_to_index

    _, tokenizer = build_tiger(BACKBONE, sid_vocabulary(2, 8), 0)
    table = CodeTable(tokenizer, 2, 8)
    table.set(unique_codes(pretrained.codes, 8))
    rows = Rows(train, 50)
    batch = table.batch(rows, torch.arange(len(rows)), torch.device("cpu"))
    index = codes_to_index(table.codes)
    for row in (0, 3, len(rows) - 1):
        prompt = "".join(t for item in train["history"][row] for t in index[item])
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        n = int(batch["attention_mask"][row].sum())
        assert batch["input_ids"][row, :n].tolist() == ids
        assert batch["labels"][row].tolist() == tokenizer.convert_tokens_to_ids(index[int(train["target"][row])])


def test_etegrec_recodes_items_collision_free_and_decodes_through_the_tiger_path(catalogue, tmp_path):
    vectors, train, valid, pretrained = catalogue
    settings = ETEGRecSettings.from_config(SHORT)
    info = train_etegrec(BACKBONE, settings, pretrained.state, vectors, train, valid, TEMPLATES, tmp_path / "model",
                         threads=1)
    # the tokenizer epochs moved codes, and the extra token keeps every SID unique
    assert info["items_recoded"] > 0
    assert info["collisions"]["final_with_extra_token"]["collision_rate"] == 0
    phases = [(h["phase"], h["epoch"]) for h in info["history"]]
    assert phases[:4] == [("alternating", e) for e in (1, 2, 3, 4)] and ("finetune", 1) in phases
    assert {"valid_ndcg@10"} <= set(info["history"][1]) and "valid_ndcg@10" not in info["history"][0]
    assert info["recommender_epochs"] == 3

    from genrec.evaluate.predict import predict_split
    from genrec.evaluate.settings import EvalSettings
    from genrec.models.backbone import load_backbone
    from genrec.models.checkpoint import trained_with
    from genrec.models.sid_vocab import sid_trie
    from genrec.prompts import ItemText, stage_templates
    from genrec.tokenize.index import read_index

    trained, index_path = trained_with(tmp_path / "model")
    index = read_index(index_path, n_items=len(vectors))
    assert len({tuple(s) for s in index.values()}) == len(vectors) and {len(s) for s in index.values()} == {3}
    model, tokenizer = load_backbone(tmp_path / "model")
    items = pd.DataFrame({"title": [f"item {i}" for i in range(len(vectors))], "description": ""})
    records = predict_split(model, tokenizer, valid, ItemText.build(items, index), stage_templates(trained.templates,
                            "evaluate"), sid_trie(tokenizer, index), EvalSettings(num_beams=10, ks=(1, 5, 10)),
                            trained.prompt_history)
    assert len(records) == len(valid) and sum(r["invalid"] for r in records) == 0
    saved = torch.load(tmp_path / "model" / "etegrec.pt")
    assert set(saved) == {"tokenizer", "enc_adapter", "dec_adapter"}
    assert json.loads((tmp_path / "model" / "training.json").read_text())["best"]["valid_rows_scored"] == len(valid)
    # the dashboard's run detail plots the epochs of every phase in one sequence
    from genrec.report.board import training_curves

    curves = training_curves(tmp_path / "model")["etegrec"]
    assert curves["epoch"].tolist() == list(range(1, len(info["history"]) + 1))
    assert curves["phase"].iloc[0] == "alternating" and curves["phase"].iloc[-1] == "finetune"
    assert {"code", "sia", "psa", "tokenizer", "valid_ndcg@10"} <= set(curves)


@pytest.mark.parametrize("stage", ["etegrec-no-at", "etegrec-no-ete", "etegrec-no-sia-psa"])
def test_table_4_variants_train(catalogue, tmp_path, stage):
    vectors, train, valid, pretrained = catalogue
    settings = ETEGRecSettings.from_config(SHORT | {"epochs": 2, "finetune_epochs": 0}).variant(stage)
    assert settings.to_dict().items() >= VARIANTS[stage].items()
    info = train_etegrec(BACKBONE, settings, pretrained.state, vectors, train, valid, TEMPLATES, tmp_path / stage,
                         threads=1)
    assert info["collisions"]["final_with_extra_token"]["collision_rate"] == 0
    if stage == "etegrec-no-at":      # every epoch trains the recommender (and the tokenizer) and re-derives codes
        assert info["recommender_epochs"] == 2
    if stage == "etegrec-no-ete":     # a fresh recommender on the final codes
        assert info["best"]["phase"] == "retrain"
        assert any(h["phase"] == "retrain" for h in info["history"])


def test_eval_every_must_divide_the_cycle():
    with pytest.raises(GenrecError, match="must divide cycle"):
        ETEGRecSettings(cycle=4, eval_every=3)
