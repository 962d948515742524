"""OpenOneRec's itemic tokens, vocabulary expansion, chat template and data formats (genrec.openonerec)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from genrec.config import load_config
from genrec.errors import GenrecError
from genrec.models.backbone import build_tiny_backbone
from genrec.models.settings import BackboneSpec
from genrec.models.sid_vocab import add_sid_tokens
from genrec.openonerec.chat import (messages_json, parse_chat, render_chat, text_messages, think_pattern,
                                    with_chat_template)
from genrec.openonerec.data import (CHAT_SCHEMA, SEGMENTS_SCHEMA, chat_samples, pretrain_segments, read_split,
                                    read_openonerec_table, write_caption, write_openonerec_data)
from genrec.openonerec.itemic import SID_BEGIN, SID_END, itemic_text, itemic_vocabulary
from genrec.openonerec.settings import OpenOneRecData
from genrec.settings import openonerec_data

ROOT = Path(__file__).resolve().parents[1]

INDEX = {0: ["<a_0>", "<b_1>", "<c_2>"], 1: ["<a_1>", "<b_0>", "<c_0>"], 2: ["<a_0>", "<b_1>", "<c_3>"],
         3: ["<a_2>", "<b_2>", "<c_1>"]}


@pytest.fixture(scope="module")
def settings() -> OpenOneRecData:
    return openonerec_data(load_config(ROOT / "config/config.yaml"))


@pytest.fixture
def tiny():
    spec = BackboneSpec.from_config({"kind": "tiny", "hidden_size": 16, "intermediate_size": 32, "num_layers": 1,
                                     "num_heads": 2, "num_kv_heads": 2, "text_vocab_size": 300}, key="backbones.t",
                                    name="t")
    return build_tiny_backbone(spec, ["a red filament spool", "a brass valve", "what is this item"], seed=0)


def test_vocabulary_expansion_adds_an_index_level_beyond_the_codebooks(tiny):
    """A tokenizer that disambiguates collisions with a 4th token (dedup_level): stage 1 adds those tokens too."""
    from genrec.openonerec.pretrain import expand_vocabulary

    model, tokenizer = tiny
    index = {0: ["<a_0>", "<b_1>", "<c_2>", "<d_0>"], 1: ["<a_0>", "<b_1>", "<c_2>", "<d_1>"]}
    expand_vocabulary(model, tokenizer, levels=3, codebook_size=4, index=index)
    vocab = tokenizer.get_vocab()
    assert {"<d_0>", "<d_1>", "<a_3>", SID_BEGIN, SID_END} <= set(vocab)
    ids = tokenizer(itemic_text(index[1]), add_special_tokens=False)["input_ids"]
    assert len(ids) == 6


def test_vocabulary_expansion_adds_every_code_of_every_level_and_the_markers(tiny):
    model, tokenizer = tiny
    before = len(tokenizer)
    added = itemic_vocabulary(levels=3, codebook_size=16)
    assert len(added) == 3 * 16 + 2 and added[-2:] == [SID_BEGIN, SID_END]
    add_sid_tokens(model, tokenizer, added)
    vocab = tokenizer.get_vocab()
    assert len(tokenizer) == before + 50
    # codes no item of INDEX uses are there too, at every level
    assert all(f"<{level}_{code}>" in vocab for level in "abc" for code in range(16))
    assert model.get_input_embeddings().weight.shape[0] >= len(tokenizer)
    # an item is its 3 codes between the markers: 5 tokens, each one id
    ids = tokenizer(itemic_text(INDEX[3]), add_special_tokens=False)["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == [SID_BEGIN, "<a_2>", "<b_2>", "<c_1>", SID_END]


def test_chat_template_round_trip(tiny):
    model, tokenizer = tiny
    add_sid_tokens(model, tokenizer, itemic_vocabulary(levels=3, codebook_size=4))
    with_chat_template(model, tokenizer)
    # the turn markers are special tokens with embedding rows of their own: a rendered sample runs through the model
    markers = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    assert tokenizer.decode(markers, skip_special_tokens=True) == "" and len(set(markers)) == 2
    assert model.get_input_embeddings().weight.shape[0] >= len(tokenizer)
    messages = [{"role": "system", "content": "You recommend items."},
                {"role": "user", "content": f"History:\n{itemic_text(INDEX[0])}{itemic_text(INDEX[1])}"},
                {"role": "assistant", "content": itemic_text(INDEX[2])}]
    text = render_chat(tokenizer, messages)
    assert text.startswith("<|im_start|>system\nYou recommend items.<|im_end|>\n")
    assert text.endswith(f"<|im_start|>assistant\n<think>\n\n</think>\n\n{itemic_text(INDEX[2])}<|im_end|>\n")
    assert parse_chat(text) == messages
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    assert ids.max() < model.get_input_embeddings().weight.shape[0]
    assert torch.isfinite(model(input_ids=ids, labels=ids).loss)
    # stored as OpenOneRec's parquet does (content as text parts), and back; plain-string parts read as text
    assert text_messages(messages_json(messages)) == messages
    assert text_messages(json.dumps([{"role": "user", "content": ["a", {"type": "text", "text": "b"}]}])) == \
        [{"role": "user", "content": "ab"}]
    # a rationale stays in the answer; a prompt for generation is not a whole chat
    reasoned = messages[:2] + [{"role": "assistant", "content": "<think>\nsame brand\n</think>\n\n<|sid_begin|>"}]
    assert parse_chat(render_chat(tokenizer, reasoned)) == reasoned
    prompt = render_chat(tokenizer, messages[:2], add_generation_prompt=True, enable_thinking=False)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    with pytest.raises(GenrecError, match="after the last chat turn"):
        parse_chat(prompt)


def test_think_pattern_marks_questions_as_openonerec_does():
    plain = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert think_pattern(plain) == [{"role": "user", "content": "q/no_think"},
                                    {"role": "assistant", "content": "<think>\n</think>\na"}]
    reasoned = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>why</think>a"}]
    assert think_pattern(reasoned)[0]["content"] == "q/think" and think_pattern(reasoned)[1] == reasoned[1]
    empty = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think> </think>a"}]
    assert think_pattern(empty)[0]["content"] == "q/no_think"
    assert plain[0]["content"] == "q"       # the input is left as it was


def _dataset():
    items = pd.DataFrame({"item_id": [0, 1, 2, 3], "title": ["Red filament", "Brass valve", "", "Glue"],
                          "description": ["PLA, 1.75 mm", "", "", None]})
    # user 0: training sequence 0 1 2 (rows 0 -> 1, 0 1 -> 2), valid target 3, test target 0; user 1: 1 -> 3
    splits = {"train": pd.DataFrame({"user_id": [0, 0, 1], "history": [[0], [0, 1], [1]], "target": [1, 2, 3],
                                     "timestamp": [1, 2, 1]}),
              "valid": pd.DataFrame({"user_id": [0, 1], "history": [[0, 1, 2], [1, 3]], "target": [3, 0],
                                     "timestamp": [3, 2]}),
              "test": pd.DataFrame({"user_id": [0, 1], "history": [[0, 1, 2, 3], [1, 3, 0]], "target": [0, 2],
                                    "timestamp": [4, 3]})}
    return items, splits


def test_segments_write_training_sequences_and_captions_only(settings):
    items, splits = _dataset()
    segments = pretrain_segments(splits["train"], items, INDEX, settings)
    texts = [json.loads(s)[0]["text"] for s in segments["segments"]]
    # users' training sequences, back to back with no prompt; never a valid or test target
    assert texts[:2] == ["".join(itemic_text(INDEX[i]) for i in (0, 1, 2)),
                         "".join(itemic_text(INDEX[i]) for i in (1, 3))]
    assert [json.loads(m) for m in segments["metadata"][:2]] == [{"user_id": 0}, {"user_id": 1}]
    # a caption per item that has text (item 2 has none): title and description behind the item's tokens
    captions = dict(zip([json.loads(m)["item_id"] for m in segments["metadata"][2:]], texts[2:]))
    assert set(captions) == {0, 1, 3}
    assert itemic_text(INDEX[0]) in captions[0] and "Red filament PLA, 1.75 mm" in captions[0]
    assert list(segments["source"]) == ["RecIF_ItemRec_Pretrain"] * 2 + ["RecIF_ItemUnderstand_Pretrain"] * 3
    capped = OpenOneRecData.from_config({**json.loads(settings.to_json()), "max_history": 1, "max_targets": 1})
    assert json.loads(pretrain_segments(splits["train"], items, INDEX, capped)["segments"][0])[0]["text"] == \
        itemic_text(INDEX[1]) + itemic_text(INDEX[2])       # the most recent max_history + max_targets items


def test_json_caption_template_writes_json():
    sid, caption = itemic_text(INDEX[0]), 'A "quoted" caption'
    written = write_caption({"item ID": "{sid}", "item content": "{caption}"}, sid, caption)
    assert json.loads(written) == {"item ID": sid, "item content": caption}
    assert write_caption("Item {sid} shows the following: {caption}", sid, caption) == \
        f"Item {sid} shows the following: {caption}"


def test_chat_asks_each_rows_history_and_answers_its_target(settings, tmp_path):
    items, splits = _dataset()
    chat = chat_samples(splits, items, INDEX, settings)
    rec = chat[chat["source"] == "RecIF_ItemRec"]
    assert list(rec["split"]) == ["train"] * 3 + ["valid"] * 2 + ["test"] * 2
    for (_, sample), (split, row) in zip(rec.iterrows(), [(s, r) for s in splits for r in range(len(splits[s]))]):
        system, user, answer = text_messages(sample["messages"])
        table = splits[split]
        assert system["content"] in settings.prompts.rec.system
        assert "".join(itemic_text(INDEX[i]) for i in table["history"][row]) in user["content"]
        assert answer == {"role": "assistant", "content": itemic_text(INDEX[table["target"][row]])}
        assert json.loads(sample["metadata"]) == {"user_id": int(table["user_id"][row]), "row": row,
                                                  "target": int(table["target"][row])}
    short = OpenOneRecData.from_config({**json.loads(settings.to_json()), "max_history": 1})
    _, user, _ = text_messages(chat_samples(splits, items, INDEX, short)["messages"].iloc[4])    # valid row 1
    assert itemic_text(INDEX[3]) in user["content"] and itemic_text(INDEX[1]) not in user["content"]
    understand = chat[chat["source"] == "RecIF_ItemUnderstand"]
    assert len(understand) == 3 and set(understand["split"]) == {"train"}
    _, question, caption = text_messages(understand["messages"].iloc[0])
    assert itemic_text(INDEX[0]) in question["content"] and caption["content"] == "Red filament PLA, 1.75 mm"
    # the same settings write the same files (seeded draws and ids)
    segments = pretrain_segments(splits["train"], items, INDEX, settings)
    pd.testing.assert_frame_equal(chat, chat_samples(splits, items, INDEX, settings))
    assert chat["uuid"].is_unique and not set(chat["uuid"]) & set(segments["uuid"])
    write_openonerec_data(segments, chat, tmp_path / "segments.parquet", tmp_path / "chat.parquet")
    train = read_split(tmp_path / "chat.parquet", CHAT_SCHEMA, "train")    # what training reads: no valid/test answer
    assert set(train["split"]) == {"train"} and len(train) == int((chat["split"] == "train").sum()) >= 3 + 3
    with pytest.raises(GenrecError, match="expected"):
        read_openonerec_table(tmp_path / "chat.parquet", SEGMENTS_SCHEMA)


def test_prompts_without_their_placeholder_fail_naming_the_key(settings):
    def with_prompts(**changes):
        values = json.loads(settings.to_json())
        for path, value in changes.items():
            task, role = path.split("__") if "__" in path else (path, None)
            if role:
                values["prompts"][task][role] = value
            else:
                values["prompts"][task] = value
        return OpenOneRecData.from_config(values)

    with pytest.raises(GenrecError, match=r"expected \['query'\]") as error:
        with_prompts(rec__user=["Predict the next item."])
    assert "openonerec.prompts.rec.user" in str(error.value)
    with pytest.raises(GenrecError, match=r"has placeholders \['history', 'query'\]"):
        with_prompts(rec__user=["{history} then {query}"])
    with pytest.raises(GenrecError, match="does not parse"):
        with_prompts(item_understand__user=["What is {sid}? {"])
    with pytest.raises(GenrecError, match="captions"):
        with_prompts(captions=["Item {sid}"])
    with_prompts(captions=[{"id": "{sid}", "text": "{caption}"}], rec__user=["{query} -> {{next}}"])


def test_stage1_alignment_trains_only_the_new_embedding_rows(settings, tmp_path):
    """OpenOneRec's stage 1 on segments, with its weight decay: the saved model is the backbone it started from
    everywhere but the rows the vocabulary expansion added."""
    from genrec.models.backbone import load_backbone
    from genrec.openonerec.pretrain import expand_vocabulary, segment_texts, split_segments, train_stage
    from genrec.openonerec.settings import ALIGN, OpenOneRecJob
    from genrec.sft.settings import SFTSettings

    items, splits = _dataset()
    spec = BackboneSpec.from_config({"kind": "tiny", "hidden_size": 16, "intermediate_size": 32, "num_layers": 1,
                                     "num_heads": 2, "num_kv_heads": 2, "text_vocab_size": 300}, key="backbones.t",
                                    name="t")
    model, tokenizer = build_tiny_backbone(spec, ["Red filament PLA", "Brass valve", "Item shows the following"], 0)
    start = {name: weight.clone() for name, weight in model.state_dict().items()}
    n_old = expand_vocabulary(model, tokenizer, levels=3, codebook_size=4)
    train = segment_texts(pretrain_segments(splits["train"], items, INDEX, settings), "train")
    assert train[0].startswith(SID_BEGIN)
    steps = SFTSettings(batch_size=5, micro_batch_size=5, epochs=4, learning_rate=0.05, weight_decay=0.1,
                        save_every_epochs=2, precision="float32", seed=0)
    job = OpenOneRecJob(backbone=spec, sft=steps, levels=3, codebook_size=4)
    info = train_stage(ALIGN, model, tokenizer, job, train, split_segments(splits["valid"], INDEX, 512),
                       tmp_path / "m", tmp_path / "w", n_old=n_old)
    assert info["frozen_rows"] == n_old and info["steps"] == 4
    trained, saved = load_backbone(tmp_path / "m")
    assert len(saved) == len(tokenizer) and saved.chat_template
    after = trained.state_dict()
    for name, weight in start.items():
        if name in ("model.embed_tokens.weight", "lm_head.weight"):
            assert torch.equal(after[name][:n_old], weight[:n_old]), name
            new = after[name][n_old:len(tokenizer)]
            assert not torch.equal(new, new.mean(0).expand_as(new)), name     # the new rows left their mean start
        else:
            assert torch.equal(after[name], weight), name


def test_an_hf_backbones_base_stage_is_the_model_as_loaded(tiny, tmp_path):
    """A pre-trained backbone (Qwen3 on a cluster) is already the model before stage 1: the base stage writes it
    unchanged, in the layout the later stages read, with a training.json that says it did not train."""
    from genrec.models.backbone import load_backbone
    from genrec.openonerec.pretrain import run_base
    from genrec.openonerec.settings import BASE, OpenOneRecJob
    from genrec.sft.settings import SFTSettings

    model, tokenizer = tiny
    model.save_pretrained(tmp_path / "hub")
    tokenizer.save_pretrained(tmp_path / "hub")
    spec = BackboneSpec.from_config({"kind": "hf", "path": str(tmp_path / "hub")}, key="backbones.q", name="q")
    info = run_base(OpenOneRecJob(backbone=spec, sft=SFTSettings()), pd.DataFrame(), [], tmp_path / "base",
                    tmp_path / "work")
    assert info["stage"] == BASE and info["trained"] is False
    assert json.loads((tmp_path / "base" / "training.json").read_text())["trained"] is False
    saved, saved_tokenizer = load_backbone(tmp_path / "base")
    assert saved_tokenizer.get_vocab() == tokenizer.get_vocab()
    for name, weight in model.state_dict().items():
        assert torch.equal(saved.state_dict()[name], weight), name


def test_segments_train_on_every_token_in_windows_of_the_training_length(tiny):
    """A segment is its text then `<|endoftext|>` with every token a target but the first (OpenOneRec's
    `_process_completion`); a longer text is cut into windows overlapping by one token, so that every token but the
    text's first is a target exactly once."""
    from genrec.openonerec.pretrain import SegmentWindows
    from genrec.sft.dataset import IGNORE

    _, tokenizer = tiny
    text = "a red filament spool and a brass valve " * 3
    ids = [*tokenizer(text, add_special_tokens=False)["input_ids"], tokenizer.convert_tokens_to_ids("<|endoftext|>")]
    whole = SegmentWindows([text], tokenizer, max_length=512)
    assert len(whole) == 1 and whole[0] == {"input_ids": ids, "labels": [IGNORE, *ids[1:]]}
    for width in (2, 3, len(ids) // 2, len(ids) - 1, len(ids)):
        cut = SegmentWindows([text], tokenizer, max_length=width)
        assert all(len(item["input_ids"]) <= width and item["labels"][0] == IGNORE for item in cut)
        targets = [label for item in cut for label in item["labels"] if label != IGNORE]
        assert targets == ids[1:], width                         # each once, in order
        assert all(item["labels"][1:] == item["input_ids"][1:] for item in cut)


def test_mixture_keeps_every_rec_segment_and_draws_the_general_share():
    from genrec.openonerec.pretrain import mixture

    rec, general = [f"r{i}" for i in range(30)], [f"g{i}" for i in range(20)]
    assert mixture(rec, general, None, 0) == rec + general                    # OpenOneRec: both, concatenated
    quarter = mixture(rec, general, 0.25, 0)
    assert quarter[:30] == rec and len(quarter) == 40 and len(set(quarter[30:])) == 10
    assert mixture(rec, general, 0.25, 0) == quarter                          # seeded
    twice = mixture(rec, general, 0.6, 0)                                     # 45 general: the corpus 2x, then 5
    assert len(twice) == 75 and sorted(twice[30:]).count("g0") >= 2


def test_perplexity_is_the_models_own_loss_on_the_heldout_text(tiny):
    """The token losses behind the perplexity are the causal LM's loss on each segment + EOS (HF's `labels` loss),
    whatever the batch padding; only held-out rows are scored."""
    from genrec.openonerec.chat import segments_json
    from genrec.openonerec.perplexity import general_perplexity, token_losses
    from genrec.openonerec.settings import PerplexitySettings

    model, tokenizer = tiny
    texts = ["a red filament spool", "what is this item, a brass valve?", "a brass valve"]
    losses, owners = token_losses(model, tokenizer, texts, max_length=64, batch_size=2)
    for i, text in enumerate(texts):
        ids = torch.tensor([[*tokenizer(text, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]])
        with torch.no_grad():
            expected = model(input_ids=ids, labels=ids).loss
        assert losses[owners == i].mean() == pytest.approx(float(expected), rel=1e-5)
    general = pd.DataFrame({"segments": [segments_json(t) for t in texts], "split": ["heldout", "train", "heldout"]})
    result = general_perplexity(model, tokenizer, general, PerplexitySettings(max_length=64))
    kept = losses[(owners == 0) | (owners == 2)]
    assert result["texts"] == 2 and result["tokens"] == len(kept)
    assert result["perplexity"] == pytest.approx(float(np.exp(kept.mean())), rel=1e-5)
    low, high = result["perplexity_ci95"]
    assert low <= result["perplexity"] <= high
    assert result["text_tokens"] == [int((owners == 0).sum()), int((owners == 2).sum())]
    assert result["text_nll"] == pytest.approx([float(losses[owners == 0].sum()), float(losses[owners == 2].sum())],
                                               abs=1e-3)


def test_two_models_perplexities_compare_paired_over_conversations(tmp_path):
    """`genrec compare` on two perplexity files: the mean token loss difference over the same tokens, its interval
    from conversations resampled (the per-token draw), and the perplexity ratio; refused on different tokens."""
    from genrec.evaluate.metrics import paired_difference
    from genrec.report.compare import paired_perplexity

    rng = np.random.default_rng(0)
    tokens = [5, 9, 3, 7]
    a_losses = [rng.uniform(2, 5, n) for n in tokens]
    b_losses = [loss - rng.uniform(0.1, 0.5, len(loss)) for loss in a_losses]     # b is better on every token

    def write(name, losses, counts):
        path = tmp_path / f"{name}.perplexity.json"
        flat = np.concatenate(losses)
        path.write_text(json.dumps({"tokens": int(sum(counts)), "nll": float(flat.mean()), "text_tokens": counts,
                                    "text_nll": [float(loss.sum()) for loss in losses]}))
        return path

    a, b = write("a", a_losses, tokens), write("b", b_losses, tokens)
    paired = paired_perplexity(a, b)
    owners = np.repeat(np.arange(len(tokens)), tokens)
    expected = paired_difference(np.concatenate(a_losses), np.concatenate(b_losses), owners)
    for key in ("difference", "ci_low", "ci_high"):
        assert paired[key] == pytest.approx(expected[key])
    assert paired["ratio"] == pytest.approx(np.exp(np.concatenate(a_losses).mean() - np.concatenate(b_losses).mean()))
    assert paired["ratio_low"] == pytest.approx(np.exp(expected["ci_low"]))
    assert paired["ratio_high"] == pytest.approx(np.exp(expected["ci_high"]))
    assert paired["ratio_low"] > 1          # b is better on every token, so the whole interval says a is worse
    other = write("other", b_losses[:3] + [b_losses[3][:-1]], tokens[:3] + [6])
    with pytest.raises(GenrecError, match="same tokens"):
        paired_perplexity(a, other)


def test_pretrain_settings_refuse_what_cannot_train():
    from genrec.openonerec.settings import OpenOneRecJob
    from genrec.sft.settings import SFTSettings

    spec = BackboneSpec.from_config({"kind": "tiny"}, key="backbones.t", name="t")
    with pytest.raises(GenrecError, match="general_share"):
        OpenOneRecJob(backbone=spec, sft=SFTSettings(), general_share=1.0)
    with pytest.raises(GenrecError, match="min_lr_rate"):
        SFTSettings(min_lr_rate=0.5)                                        # a floor without its schedule
    with pytest.raises(GenrecError, match="min_lr_rate"):
        SFTSettings(lr_scheduler="cosine_with_min_lr")                      # the schedule without its floor


def test_distill_settings_refuse_what_is_not_openonerecs_signal():
    from genrec.openonerec.settings import DistillSettings

    for bad, key in (({"lmbda": 0.5}, "lmbda"), ({"beta": 0.5}, "beta"), ({"advantage_min": 1.0}, "advantage_min"),
                     ({"advantage_max": -1.0}, "advantage_max")):
        with pytest.raises(GenrecError) as error:
            DistillSettings(**bad)
        assert error.value.key == f"openonerec.distill.{key}"
    assert DistillSettings(advantage_min=None, advantage_max=None).advantage_max is None    # unbounded: plain KL


def test_a_tiny_qwen3_has_heads_as_wide_as_its_width_allows():
    """Qwen3Config's 128-wide default heads would make a 128-wide tiny model's attention 4x its width."""
    spec = BackboneSpec.from_config({"kind": "tiny", "architecture": "qwen3", "hidden_size": 32, "num_heads": 4,
                                     "num_kv_heads": 4, "intermediate_size": 64, "num_layers": 1,
                                     "text_vocab_size": 300}, key="backbones.t", name="t")
    model, _ = build_tiny_backbone(spec, ["a red filament spool"], 0)
    assert model.config.head_dim == 8
    assert model.model.layers[0].self_attn.q_proj.weight.shape == (32, 32)


def test_general_text_holds_out_whole_conversations():
    """The Chit Chat Challenge corpus (the package `chitchat-dataset`) as segments and chat: a conversation is held
    out whole, in both formats, by a hash of its id; chats alternate user and assistant and end on an answer."""
    from genrec.openonerec.general import general_data, general_split

    segments, chat = general_data("chitchat", heldout_percent=5, valid_percent=2)
    assert len(segments) == 7_168 and len(chat) == 4_017       # 3,151 conversations are one speaker's only
    held = set(segments.loc[segments["split"] == "heldout", "uuid"])
    valid = set(segments.loc[segments["split"] == "valid", "uuid"])
    assert 0.03 < len(held) / len(segments) < 0.07 and 0.01 < len(valid) / len(segments) < 0.03
    for split, ids in (("heldout", held), ("valid", valid)):
        assert set(chat.loc[chat["split"] == split, "uuid"]) <= ids
    assert all(general_split(cid, 5, 2) == segments_split for cid, segments_split in zip(segments["uuid"], segments["split"]))
    for stored in chat["messages"].sample(200, random_state=0):
        messages = text_messages(stored)
        assert [m["role"] for m in messages] == ["user", "assistant"] * (len(messages) // 2)
        assert all(m["content"] for m in messages)
    with pytest.raises(GenrecError, match="unknown general corpus"):
        general_data("wikipedia", 5, 2)


def test_chat_sft_learns_every_answer_and_its_end_marker_only(tiny):
    """OpenOneRec's assistant mask (qwen3_dataset.py `_get_assistant_mask`): every assistant turn's tokens and its
    `<|im_end|>` are labels; the system prompt, the questions and the turn headers are not."""
    from genrec.openonerec.sft import ChatDataset, answer_spans
    from genrec.sft.dataset import IGNORE

    model, tokenizer = tiny
    with_chat_template(model, tokenizer)
    messages = [{"role": "system", "content": "you recommend items"}, {"role": "user", "content": "a red spool?"},
                {"role": "assistant", "content": "a brass valve"}, {"role": "user", "content": "and then?"},
                {"role": "assistant", "content": "a red filament spool"}]
    text = render_chat(tokenizer, think_pattern(messages))
    answers = [text[start:stop] for start, stop in answer_spans(text)]
    assert len(answers) == 2 and answers[0].endswith("a brass valve<|im_end|>")
    assert answers[1].endswith("a red filament spool<|im_end|>")
    data = ChatDataset([messages], tokenizer, max_length=512)
    item = data[0]
    labelled = [token for token, label in zip(item["input_ids"], item["labels"]) if label != IGNORE]
    assert tokenizer.decode(labelled) == "".join(answers)
    assert tokenizer.decode(item["input_ids"]) == text
    # cut to its first tokens: the first answer's start survives, a conversation left with none is dropped
    first_answer = text.index("a brass valve")
    short = len(tokenizer(text[:first_answer], add_special_tokens=False)["input_ids"]) + 2
    assert len(ChatDataset([messages], tokenizer, max_length=short)[0]["input_ids"]) == short
    dropped = ChatDataset([messages], tokenizer, max_length=8)
    assert len(dropped) == 0 and dropped.dropped == 1


def test_the_decoding_prompt_is_the_training_rendering_of_a_recommendation_chat(tiny, settings):
    """The template a chat model is evaluated from, filled with a history and a SID, is the text SFT trains on for
    that row's chat (with the first system prompt and question), up to the answer's end marker."""
    from genrec.openonerec.sft import recommendation_templates
    from genrec.prompts import ItemText, recommendation_prompt, stage_templates

    model, tokenizer = tiny
    add_sid_tokens(model, tokenizer, itemic_vocabulary(levels=3, codebook_size=4))
    with_chat_template(model, tokenizer)
    templates = stage_templates(recommendation_templates(tokenizer, settings.prompts), "evaluate")
    history, target = [2, 0, 3], 1
    messages = [{"role": "system", "content": settings.prompts.rec.system[0]},
                {"role": "user", "content": settings.prompts.rec.user[0].format(
                    query="".join(itemic_text(INDEX[i]) for i in history))},
                {"role": "assistant", "content": itemic_text(INDEX[target])}]
    trained = render_chat(tokenizer, think_pattern(messages))
    text = ItemText(sids=["".join(INDEX[i]) for i in range(len(INDEX))], titles=[], descriptions=[])
    prompt = recommendation_prompt(templates, text, history)
    answer = templates["seq_rec"].response.format(sid="".join(INDEX[target]))
    assert trained.startswith(prompt + answer) and prompt.endswith(SID_BEGIN)
    assert trained[len(prompt + answer):] == "<|im_end|>\n"


def _teacher_and_student(tiny, padded_rows: int = 0):
    """A tiny base model and a student that extends its vocabulary as stage 1 does (itemic tokens, chat markers);
    with `padded_rows`, the teacher has embedding rows past its tokenizer, as Qwen3 has (151,936 for 151,669)."""
    import copy

    from genrec.openonerec.pretrain import expand_vocabulary

    teacher, teacher_tokenizer = tiny
    if padded_rows:
        teacher.resize_token_embeddings(len(teacher_tokenizer) + padded_rows)
    student, tokenizer = copy.deepcopy(teacher), copy.deepcopy(teacher_tokenizer)
    expand_vocabulary(student, tokenizer, levels=3, codebook_size=4)
    with torch.no_grad():      # a student that differs from its teacher on the shared vocabulary too
        for weight in student.parameters():
            weight.add_(0.05 * torch.randn_like(weight))
    return teacher, teacher_tokenizer, student, tokenizer


@pytest.mark.parametrize("padded_rows", [0, 8])
@pytest.mark.parametrize("clip", [(-30.0, 5.0), (None, None)])
def test_distillation_loss_is_the_reverse_kl_to_the_teacher_on_the_students_vocabulary(tiny, padded_rows, clip):
    """The distillation loss on the wrapped teacher, over the whole distribution, is at every labelled position
    sum_v p_s(v) (log p_s(v) -
    log p_t(v)) at the rollout temperature, where the teacher reads a token it lacks (one past its tokenizer, even
    where it has an embedding row) as its end of text and gives it log-probability -100, the end of a turn is its
    end of text, and log p_t is held within the advantage clip of log p_s (verl's [-30, 5]; none: the plain KL)."""
    from genrec.openonerec.distill import OnPolicyDistillTrainer, teacher_on_student_vocabulary
    from genrec.openonerec.pretrain import end_of_text

    torch.manual_seed(0)
    temperature, (low, high) = 1.1, clip
    teacher, teacher_tokenizer, student, tokenizer = _teacher_and_student(tiny, padded_rows)
    wrapped, stops = teacher_on_student_vocabulary(teacher, teacher_tokenizer, student, tokenizer, floor=-100.0,
                                                   temperature=temperature)
    trainer = OnPolicyDistillTrainer.__new__(OnPolicyDistillTrainer)    # the loss only: no model, data or args
    trainer.temperature, trainer.advantage_min, trainer.advantage_max = temperature, low, high
    trainer.top_k, trainer.top_p = 0, 1.0                                 # the whole distribution (truncation: below)
    n_teacher, vocab = len(teacher_tokenizer), tokenizer.get_vocab()
    end, im_end, itemic = end_of_text(teacher_tokenizer), vocab["<|im_end|>"], vocab["<b_2>"]
    assert {im_end, itemic, vocab[SID_BEGIN]} <= set(stops)
    assert all(i >= n_teacher or i == tokenizer.eos_token_id for i in stops)     # replies end where the teacher cannot score
    prompt = tokenizer("a red filament spool", add_special_tokens=False)["input_ids"]
    reply = [*tokenizer("a brass", add_special_tokens=False)["input_ids"], itemic, im_end]
    ids = torch.tensor([prompt + reply])
    labels = torch.tensor([[-100] * len(prompt) + reply])
    student.eval()
    with torch.no_grad():
        student_logits = student(input_ids=ids).logits
        loss = trainer.generalized_jsd_loss(student_logits[:, :-1], wrapped(ids).logits[:, :-1], labels[:, 1:])
        # by hand: the teacher reads the itemic token and the turn's end as its end of text
        read = torch.tensor([[i if i < n_teacher else end for i in ids[0].tolist()]])
        teacher_logp = torch.log_softmax(teacher(input_ids=read).logits[0, :, :n_teacher].double() / temperature, -1)
    student_logp = torch.log_softmax(student_logits[0].double() / temperature, -1)[:, :len(tokenizer)]
    clipped = 0
    expected = []
    for position in range(len(prompt) - 1, ids.shape[1] - 1):
        reverse_kl = 0.0
        for token in range(len(tokenizer)):
            if token == im_end:
                teacher_token = teacher_logp[position, end]
            elif token < n_teacher and token != end:
                teacher_token = teacher_logp[position, token]
            else:
                teacher_token = -100.0
            advantage = float(teacher_token - student_logp[position, token])
            if low is not None and not low <= advantage <= high:
                advantage, clipped = min(max(advantage, low), high), clipped + 1
            p = student_logp[position, token].exp()
            reverse_kl += float(p * -advantage)
        expected.append(reverse_kl)
    assert len(expected) == len(reply) and float(loss) == pytest.approx(np.mean(expected), rel=1e-4)
    assert clipped > 0 or low is None     # the -100 floor is always past the clip


@pytest.mark.parametrize("top_k,top_p", [(0, 1.0), (4, 1.0), (0, 0.8), (200, 0.95)])
def test_distillation_loss_has_the_expected_gradient_of_verls_clipped_policy_gradient(top_k, top_p):
    """verl's loss on a sampled token v is -A(v) log p_s(v) with A = clip(log p_t - log p_s, -30, 5), ratio 1, v drawn
    from q (the student cut to top_k, then top_p); its expectation has the gradient sum_v q(v) (-A(v)) (e_v - p_s) in
    the student's logits and the value sum_v q(v) (-A(v)), which the loss's must equal, clipped tokens included."""
    from genrec.openonerec.distill import on_policy_distill_loss

    torch.manual_seed(1)
    n = 9
    student = torch.cat([torch.randn(n - 2, dtype=torch.float64), torch.tensor([2.0, -6.0], dtype=torch.float64)])
    student.requires_grad_(True)
    teacher = torch.cat([torch.randn(n - 2, dtype=torch.float64), torch.tensor([-60.0, 9.0], dtype=torch.float64)])
    value = on_policy_distill_loss(student, teacher, 1.0, top_k, top_p, -30.0, 5.0)
    value.backward()
    p = torch.softmax(student.detach(), -1)
    advantage = (torch.log_softmax(teacher, -1) - torch.log_softmax(student.detach(), -1)).clamp(-30.0, 5.0)
    assert advantage[n - 2] == -30.0 and advantage[n - 1] == 5.0      # both bounds bind
    kept, order = torch.zeros(n, dtype=torch.bool), torch.argsort(p, descending=True)
    mass = 0.0
    for rank, v in enumerate(order.tolist()):      # the top_k most likely, then the fewest whose mass reaches top_p
        if (top_k and rank >= top_k) or mass >= top_p:
            break
        kept[v], mass = True, mass + float(p[v])
    assert kept[n - 2] and (kept.sum() < n or (top_k == 0 and top_p == 1.0))    # the -30 bound is in every q
    q = torch.where(kept, p, 0.0) / p[kept].sum()
    expected = sum(q[v] * -advantage[v] * (torch.eye(n, dtype=torch.float64)[v] - p) for v in range(n))
    assert torch.allclose(student.grad, expected)
    assert float(value) == pytest.approx(float((q * -advantage).sum()))


def test_distillation_prompts_are_the_first_question_with_a_think_suffix(tiny):
    """OneRecDataset's prompt: a conversation's turns up to its first user turn, a think suffix after it (auto: one
    of nothing, /think, /no_think), the assistant's turn opened; training conversations only."""
    from genrec.openonerec.distill import distillation_prompts
    from genrec.openonerec.settings import DistillSettings

    model, tokenizer = tiny
    with_chat_template(model, tokenizer)
    chats = pd.DataFrame({"split": ["train", "heldout", "train"], "messages": [
        messages_json([{"role": "user", "content": "hi there"}, {"role": "assistant", "content": "hello"},
                       {"role": "user", "content": "how are you"}, {"role": "assistant", "content": "fine"}]),
        messages_json([{"role": "user", "content": "held out"}, {"role": "assistant", "content": "no"}]),
        messages_json([{"role": "system", "content": "be brief"}, {"role": "user", "content": "what now"},
                       {"role": "assistant", "content": "sleep"}])]})
    prompts = distillation_prompts(chats, tokenizer, DistillSettings(think_mode="force_nothink"), seed=0)
    assert prompts == [render_chat(tokenizer, [{"role": "user", "content": "hi there /no_think"}], True),
                       render_chat(tokenizer, [{"role": "system", "content": "be brief"},
                                               {"role": "user", "content": "what now /no_think"}], True)]
    assert all(p.endswith("<|im_start|>assistant\n") for p in prompts)
    drawn = distillation_prompts(chats, tokenizer, DistillSettings(max_prompts=1, think_mode="auto"), seed=3)
    assert len(drawn) == 1 and "held out" not in drawn[0]


def test_query_chats_ask_the_history_and_words_of_the_targets_title(settings):
    """Query-conditioned recommendation (OpenOneRec's interactive_rec, a search keyword beside the user): a drawn
    share of each split's rows, the row's history and words of its target's title asked, the target answered; the
    query is in the metadata, where evaluation reads it."""
    from genrec.openonerec.data import QUERY_CHAT, query_keyword

    rng = np.random.default_rng(0)
    assert query_keyword("Red PLA filament - 1.75 mm spool", 3, rng) in {
        " ".join(c) for c in __import__("itertools").combinations(["Red", "PLA", "filament", "1.75", "mm", "spool"], 3)}
    assert query_keyword("Glue", 3, rng) == "Glue" and query_keyword(" - ", 3, rng) == ""
    items, splits = _dataset()
    every = OpenOneRecData.from_config({**json.loads(settings.to_json()), "query_share": 1.0, "query_words": 1})
    chat = chat_samples(splits, items, INDEX, every)
    query = chat[chat["source"] == QUERY_CHAT]
    # every row whose target has a title (item 2 has none: train row 1 and test row 1 are left out)
    assert list(query["split"]) == ["train"] * 2 + ["valid"] * 2 + ["test"]
    for _, sample in query.iterrows():
        meta = json.loads(sample["metadata"])
        system, user, answer = text_messages(sample["messages"])
        table = splits[sample["split"]]
        assert system["content"] in settings.prompts.query_rec.system
        assert meta["keyword"] in items["title"][meta["target"]].split() and meta["keyword"] in user["content"]
        assert "".join(itemic_text(INDEX[i]) for i in table["history"][meta["row"]]) in user["content"]
        assert answer["content"] == itemic_text(INDEX[meta["target"]]) and table["target"][meta["row"]] == meta["target"]
    # the query chats come after the others, so adding them leaves the others' draws as they were
    fewer = chat_samples(splits, items, INDEX, settings)
    pd.testing.assert_frame_equal(fewer[fewer["source"] != QUERY_CHAT], chat[chat["source"] != QUERY_CHAT])


def test_each_tasks_decoding_prompt_is_its_training_rendering(tiny, settings):
    """The query-conditioned and item-understanding templates a chat model is evaluated from, filled, are the text
    SFT trains on for those chats (first system prompt and question) up to the answer; an answer names an item
    when it begins with its exact title."""
    from genrec.openonerec.sft import recommendation_templates
    from genrec.openonerec.tasks import names_title
    from genrec.prompts import ItemText, stage_templates

    model, tokenizer = tiny
    add_sid_tokens(model, tokenizer, itemic_vocabulary(levels=3, codebook_size=4))
    with_chat_template(model, tokenizer)
    templates = stage_templates(recommendation_templates(tokenizer, settings.prompts), "evaluate")
    text = ItemText(sids=["".join(INDEX[i]) for i in range(len(INDEX))], titles=["Red filament"] * 4,
                    descriptions=[])
    history, target, keyword = [2, 0], 1, "red {braces}"
    asked = settings.prompts.query_rec
    messages = [{"role": "system", "content": asked.system[0]},
                {"role": "user", "content": asked.user[0].format(
                    query="".join(itemic_text(INDEX[i]) for i in history), keyword=keyword)},
                {"role": "assistant", "content": itemic_text(INDEX[target])}]
    trained = render_chat(tokenizer, think_pattern(messages))
    template = templates["query_rec"]
    prompt = template.render_prompt(np.random.default_rng(0), history=text.history_sids(history,
                                                                                         template.history_separator),
                                    keyword=keyword)
    assert trained.startswith(prompt + template.response.format(sid=text.sids[target])) and prompt.endswith(SID_BEGIN)
    understand = settings.prompts.item_understand
    messages = [{"role": "system", "content": understand.system[0]},
                {"role": "user", "content": understand.user[0].format(sid=itemic_text(INDEX[3]))},
                {"role": "assistant", "content": "Glue stick"}]
    prompt = templates["item_understand"].render_prompt(np.random.default_rng(0), sid=text.sids[3])
    assert render_chat(tokenizer, think_pattern(messages)) == prompt + "Glue stick<|im_end|>\n"
    assert names_title("Red filament PLA, 1.75 mm", "Red filament") and names_title(" Red filament", "Red filament")
    assert not names_title("Red filaments", "Red filament") and not names_title("A Red filament", "Red filament")
    assert not names_title("anything", "")
