"""SFT: task mixing, response-only labels, SID vocabulary extension, global batch, resume after interruption."""

import dataclasses
import json

import pandas as pd
import pytest
import torch
from conftest import SAMPLE_INDEX, first_users, short_templates, tiny_backbone
from transformers import TrainerCallback

from genrec.errors import GenrecError
from genrec.io import read_table
from genrec.embed.encode import item_texts
from genrec.models.backbone import build_tiny_backbone, create_backbone, load_backbone
from genrec.models.sid_vocab import add_sid_tokens, freeze_llm, index_tokens, sid_token_ids
from genrec.prompts import ItemText, stage_templates
from genrec.sft.dataset import IGNORE, SFTDataset
from genrec.sft.tasks import build_examples
from genrec.sft.train import SFTSettings, run_sft
from genrec.tokenize.index import read_index
from genrec.training import gradient_accumulation

TEMPLATES = short_templates()
TINY = tiny_backbone()


def test_tasks_are_mixed_by_weight(sample):
    items, index, train = sample
    text = ItemText.build(items, index)
    weights = {"seq_rec": 1.0, "title2sid": 0.5, "hist2title": 1.0, "hist2description": {"samples": 50},
               "title_hist2sid": 2.0}
    examples = build_examples(weights, stage_templates(TEMPLATES, "sft"), text, train, prompt_history=5, seed=0)
    counts = pd.Series([e.task for e in examples]).value_counts().to_dict()
    titled = len({t for t in text.titles if t})                 # one example per distinct title
    described = sum(bool(text.descriptions[t]) for t in train["target"])
    assert described > 50
    assert counts == {"seq_rec": len(train), "title2sid": round(0.5 * titled), "hist2title": len(train),
                      "hist2description": 50, "title_hist2sid": 2 * len(train)}
    for e in examples:
        if e.task == "hist2description":
            assert e.prompt.endswith("next description:") and e.response == " " + text.descriptions[e.target]
    seq = next(e for e in examples if e.task == "seq_rec")
    assert seq.prompt.count("<a_") <= 5 and seq.response in text.sids          # history cut to prompt_history


def test_loss_is_on_the_response_only():
    _, tokenizer = build_tiny_backbone(TINY, ["some item text here"] * 10, seed=0)
    tokenizer.add_tokens(["<a_1>", "<b_2>"])
    from genrec.sft.tasks import Example

    data = SFTDataset([Example("seq_rec", "history: <a_1><b_2>\nnext:", "<a_1><b_2>")], tokenizer, max_length=64)
    row = data[0]
    n_prompt = len(tokenizer("history: <a_1><b_2>\nnext:", add_special_tokens=False)["input_ids"])
    assert row["labels"][:n_prompt] == [IGNORE] * n_prompt
    assert row["labels"][n_prompt:] == tokenizer.convert_tokens_to_ids(["<a_1>", "<b_2>"]) + [tokenizer.eos_token_id]
    short = SFTDataset([Example("seq_rec", "history: <a_1><b_2><a_1><b_2>\nnext:", "<a_1><b_2>")], tokenizer, 6)
    assert len(short[0]["input_ids"]) == 6 and short[0]["labels"][-3:] == row["labels"][-3:]   # prompt cut, not response


def test_sid_tokens_start_at_the_mean_and_freeze_llm_trains_only_them(sample):
    _, index, _ = sample
    model, tokenizer = build_tiny_backbone(TINY, ["alpha beta gamma delta"] * 20, seed=0)
    old = model.get_input_embeddings().weight[: len(tokenizer)].detach().clone()
    n_old = add_sid_tokens(model, tokenizer, index_tokens(index))
    weight = model.get_input_embeddings().weight
    assert len(tokenizer) == n_old + len(index_tokens(index))
    torch.testing.assert_close(weight[n_old], old.mean(0))
    freeze_llm(model, n_old)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    ids = torch.tensor([sid_token_ids(tokenizer, index)[:4].reshape(-1).tolist()])
    model(input_ids=ids, labels=ids).loss.backward()
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0).step()
    after = dict(model.named_parameters())
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed == {"model.embed_tokens.weight"}                     # tied with lm_head
    rows = (before["model.embed_tokens.weight"] != after["model.embed_tokens.weight"]).any(1).nonzero().flatten()
    assert rows.min() >= n_old


def test_freeze_llm_keeps_the_original_rows_exact_under_weight_decay(sample):
    """AdamW's decoupled weight decay moves every row of a matrix whose gradient is masked; the callback that
    freeze_llm returns puts the original rows back after the step, as OpenOneRec's stage 1 does."""
    _, index, _ = sample
    for keep in (False, True):
        model, tokenizer = build_tiny_backbone(TINY, ["alpha beta gamma delta"] * 20, seed=0)
        n_old = add_sid_tokens(model, tokenizer, index_tokens(index))
        kept = freeze_llm(model, n_old)
        weight = model.get_input_embeddings().weight
        before = weight.detach().clone()
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1, weight_decay=0.1)
        ids = torch.tensor([sid_token_ids(tokenizer, index)[:4].reshape(-1).tolist()])
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        if keep:
            kept.on_step_end(None, None, None)
        assert torch.equal(weight[:n_old], before[:n_old]) == keep
        assert not torch.equal(weight[n_old:], before[n_old:])       # the SID rows train either way


def test_global_batch_derives_accumulation():
    assert gradient_accumulation(1024, 32, 4) == 8
    assert gradient_accumulation(256, 256, 1) == 1
    with pytest.raises(GenrecError, match="not a multiple"):
        gradient_accumulation(1000, 32, 4)


def test_missing_sid_tokens_in_a_checkpoint_is_an_error(sample):
    _, index, _ = sample
    _, tokenizer = build_tiny_backbone(TINY, ["alpha beta"] * 10, seed=0)
    with pytest.raises(GenrecError, match=f"lacks {len(index_tokens(index))} SID token"):
        sid_token_ids(tokenizer, index, source="ckpt")


@pytest.fixture
def small_data(tmp_path, prepared_sample):
    return first_users(prepared_sample, tmp_path / "data")


class Interrupt(TrainerCallback):
    """Kills training right after the first checkpoint is written."""

    def on_save(self, args, state, control, **kwargs):
        raise KeyboardInterrupt("simulated interruption")


SETTINGS = SFTSettings(tasks={"seq_rec": 1.0, "title2sid": 0.02}, batch_size=32, micro_batch_size=16, epochs=2,
                       learning_rate=3e-3, save_every_epochs=0.5, precision="float32", seed=3)


def test_frozen_llm_sft_trains_only_the_new_rows(small_data, tmp_path):
    """`sft.freeze_llm` through the SFT stage, with weight decay on: the saved model equals the untrained backbone
    everywhere but the SID tokens' rows."""
    settings = dataclasses.replace(SETTINGS, freeze_llm=True, weight_decay=0.1, epochs=1)
    run_sft(TINY, settings, TEMPLATES, small_data, SAMPLE_INDEX, tmp_path / "m", tmp_path / "w", threads=1)
    trained, tokenizer = load_backbone(tmp_path / "m")
    start, base = create_backbone(TINY, item_texts(read_table(small_data / "items.parquet")), [], settings.seed)
    n_old = len(base)
    for name, weight in start.state_dict().items():
        after = trained.state_dict()[name]
        if name in ("model.embed_tokens.weight", "lm_head.weight"):
            assert torch.equal(after[:n_old], weight[:n_old]), name
            assert not torch.equal(after[n_old:len(tokenizer)], after[n_old:len(tokenizer)].mean(0).expand(
                len(tokenizer) - n_old, -1)), name                    # the SID rows moved off their common start
        else:
            assert torch.equal(after, weight), name


def test_sft_resumes_after_interruption_and_matches_an_uninterrupted_run(small_data, tmp_path):
    index = SAMPLE_INDEX
    straight = run_sft(TINY, SETTINGS, TEMPLATES, small_data, index, tmp_path / "a", tmp_path / "work_a", threads=1)
    with pytest.raises(KeyboardInterrupt):
        run_sft(TINY, SETTINGS, TEMPLATES, small_data, index, tmp_path / "b", tmp_path / "work_b", threads=1,
                callbacks=[Interrupt()])
    assert not (tmp_path / "b").exists()                                # no half artifact
    resumed = run_sft(TINY, SETTINGS, TEMPLATES, small_data, index, tmp_path / "b", tmp_path / "work_b", threads=1)
    assert resumed["resumed_from"].endswith(f"checkpoint-{straight['steps'] // 4}")
    assert resumed["steps"] == straight["steps"]
    a, _ = load_backbone(tmp_path / "a")
    b, tokenizer = load_backbone(tmp_path / "b")
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        torch.testing.assert_close(pa, pb, msg=name)
    info = json.loads((tmp_path / "b" / "training.json").read_text())
    assert info["gradient_accumulation"] == 2 and any("eval_loss" in e for e in info["log_history"])
    assert len(sid_token_ids(tokenizer, read_index(index, n_items=4344))) == 4344
    assert not (tmp_path / "work_b").exists()                          # checkpoints cleaned after success


def test_empty_training_split_fails_before_training(small_data, tmp_path):
    train = read_table(small_data / "train.parquet")
    train.iloc[:0].to_parquet(small_data / "train.parquet")
    with pytest.raises(GenrecError, match="training split is empty"):
        run_sft(TINY, SETTINGS, TEMPLATES, small_data, SAMPLE_INDEX, tmp_path / "m", tmp_path / "w")
    assert not (tmp_path / "m").exists() and not (tmp_path / "w").exists()


def test_response_loss_equals_the_models_own_loss_on_right_padded_batches():
    """Left padding + logits of the last positions only gives the loss HF computes over everything."""
    from genrec.sft.dataset import LeftPadCollator, response_loss
    from genrec.sft.tasks import Example

    model, tokenizer = build_tiny_backbone(TINY, ["red wire", "blue glove box", "lab beaker"] * 10, seed=0)
    examples = [Example("t", "red wire blue", " glove box"), Example("t", "lab", " beaker red wire blue glove"),
                Example("t", "blue glove box lab beaker", " red")]
    data = SFTDataset(examples, tokenizer, max_length=64)
    batch = LeftPadCollator(tokenizer.pad_token_id)([data[i] for i in range(3)])
    labels = batch.pop("labels")
    ours = response_loss(model(**batch), labels)
    reference = torch.stack([model(input_ids=torch.tensor([data[i]["input_ids"]]),
                                   labels=torch.tensor([data[i]["labels"]])).loss
                             * (torch.tensor(data[i]["labels"]) != IGNORE).sum() for i in range(3)]).sum()
    n = sum((torch.tensor(data[i]["labels"]) != IGNORE).sum() for i in range(3))
    torch.testing.assert_close(ours, reference / n, rtol=1e-4, atol=1e-5)


def test_rsqrt_is_constant_for_the_warm_up_then_inverse_square_root():
    from genrec.training import rsqrt_decay

    multiplier = rsqrt_decay(100)
    assert [multiplier(s) for s in (0, 1, 50, 100)] == [1.0] * 4
    assert multiplier(400) == pytest.approx(0.5) and multiplier(10_000) == pytest.approx(0.1)


def test_tiger_trains_under_its_rsqrt_schedule(small_data, tmp_path):
    """TIGER's T5 through run_sft with `lr_scheduler: rsqrt`: the logged rates are the schedule's."""
    from genrec.models.backbone import BackboneSpec
    from genrec.training import rsqrt_decay

    tiger = BackboneSpec.named("tiger", {"kind": "t5", "prompts": "sids", "hidden_size": 32, "num_layers": 1,
                                         "num_heads": 2, "intermediate_size": 64})
    settings = SFTSettings(batch_size=64, micro_batch_size=64, epochs=3, learning_rate=1e-2, lr_scheduler="rsqrt",
                           warmup_ratio=0.25, weight_decay=0.0, precision="float32", seed=1)
    templates = {"sft": {"seq_rec": {"prompt": "{history}", "response": "{sid}"}}}
    info = run_sft(tiger, settings, templates, small_data, SAMPLE_INDEX, tmp_path / "m", tmp_path / "w", threads=1)
    constant = info["warmup_steps"]
    assert constant == pytest.approx(0.25 * info["steps"], abs=2)
    logged = [(e["step"], e["learning_rate"]) for e in info["log_history"] if "learning_rate" in e]
    assert len(logged) >= 3 and info["steps"] > constant
    # HF logs the rate that step `step` used: the multiplier after `step - 1` scheduler updates
    for step, rate in logged:
        assert rate == pytest.approx(1e-2 * rsqrt_decay(constant)(step - 1)), step
    assert logged[-1][1] < 1e-2


def test_a_time_limited_run_evaluates_its_last_state_and_collates_in_workers(small_data, tmp_path):
    """`max_seconds` stops after the first step, which is evaluated and so can be the model kept (the GPU
    overlay cuts TIGER's schedule this way); batches come from `dataloader_workers` processes, padded to one
    width (`static_shapes`, as the GPU overlay trains); `optimizer` picks HF's optimiser."""
    from genrec.models.backbone import BackboneSpec

    tiger = BackboneSpec.named("tiger", {"kind": "t5", "prompts": "sids", "hidden_size": 32, "num_layers": 1,
                                         "num_heads": 2, "intermediate_size": 64})
    settings = SFTSettings(batch_size=64, micro_batch_size=64, epochs=3, learning_rate=1e-2, save_every_epochs=2,
                           precision="float32", optimizer="adafactor", dataloader_workers=2, max_seconds=1e-3, seed=1,
                           static_shapes=True)
    templates = {"sft": {"seq_rec": {"prompt": "{history}", "response": "{sid}"}}}

    class Optimizer(TrainerCallback):
        def on_train_begin(self, args, state, control, optimizer=None, **kwargs):
            self.name = type(optimizer.optimizer if hasattr(optimizer, "optimizer") else optimizer).__name__

    seen = Optimizer()
    info = run_sft(tiger, settings, templates, small_data, SAMPLE_INDEX, tmp_path / "m", tmp_path / "w", threads=1,
                   callbacks=[seen])
    assert seen.name == "Adafactor"                                     # `sft.optimizer` reaches the Trainer
    assert info["steps"] == 1
    assert [e["step"] for e in info["log_history"] if "eval_loss" in e] == [1]
    assert info["best_checkpoint"].endswith("checkpoint-1")


def test_static_shapes_pad_tiger_batches_to_one_width_without_changing_the_loss():
    """`sft.static_shapes`: every batch has the data's widths (a compiled model is built once), and the extra
    padding is masked out of the encoder and the loss."""
    from transformers import DataCollatorForSeq2Seq, T5Config, T5ForConditionalGeneration

    from genrec.sft.dataset import FixedShapeSeq2SeqCollator

    torch.manual_seed(0)
    model = T5ForConditionalGeneration(T5Config(vocab_size=40, d_model=16, d_kv=8, d_ff=32, num_layers=1,
                                                num_heads=2, decoder_start_token_id=0, pad_token_id=0)).eval()

    class Tokenizer:     # what DataCollatorForSeq2Seq asks of a tokenizer
        pad_token_id, padding_side, model_input_names = 0, "right", ["input_ids", "attention_mask"]

        def pad(self, features, **kwargs):
            from transformers.tokenization_utils_base import BatchEncoding

            width = max(len(f["input_ids"]) for f in features)
            return BatchEncoding({"input_ids": torch.tensor([f["input_ids"] + [0] * (width - len(f["input_ids"]))
                                                             for f in features]),
                                  "attention_mask": torch.tensor([[1] * len(f["input_ids"]) + [0] * (width - len(f["input_ids"]))
                                                                  for f in features])})

    batch = [{"input_ids": [5, 6, 7], "labels": [9, 10, 1]}, {"input_ids": [8, 5], "labels": [11, 12, 13, 1]}]
    static = FixedShapeSeq2SeqCollator(model, 0, prompt_width=16, label_width=8)(batch)
    dynamic = DataCollatorForSeq2Seq(Tokenizer(), model)(batch)
    assert static["input_ids"].shape == (2, 16) and static["labels"].shape == (2, 8)
    assert dynamic["input_ids"].shape == (2, 3)
    with torch.no_grad():
        torch.testing.assert_close(model(**static).loss, model(**dynamic).loss)
