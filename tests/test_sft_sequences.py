"""Sequence-level seq_rec training: windows of a user's sequence supervise every training row once, with exactly
the row's evaluation prompt in front of its SID (as text and as tokens); templates that do not chain are refused."""

import pytest
import torch
from conftest import ROOT, tiny_backbone

from genrec.config import load_config, read_yaml
from genrec.errors import GenrecError
from genrec.models.backbone import build_tiny_backbone
from genrec.models.sid_vocab import add_sid_tokens, index_tokens
from genrec.prompts import ItemText, Template, recommendation_prompt, stage_templates
from genrec.settings import check_config, sft_job, sft_training
from genrec.sft.dataset import IGNORE, LeftPadCollator, SFTDataset
from genrec.sft.example import recent_history
from genrec.sft.sequences import check_chaining, context_windows, sequence_examples
from genrec.sft.tasks import build_examples

PROMPTS = read_yaml(ROOT / "config" / "config.yaml")["prompts"]
SEQUENCE = stage_templates(PROMPTS["sequence"], "sft")


def test_windows_start_where_contexts_start():
    import pandas as pd

    items = list(range(10, 17))                # 7 items; the first row's history holds 1
    histories = [items[max(0, j - 3):j] for j in range(1, 7)]       # a cap of 3
    rows = pd.DataFrame({"user_id": 0, "history": histories, "target": items[1:7]})
    assert context_windows(items, 1, rows) == [(0, [1, 2, 3]), (1, [4]), (2, [5]), (3, [6])]
    broken = rows.assign(history=[h[::-1] for h in histories])
    with pytest.raises(GenrecError, match="not the items before its target"):
        context_windows(items, 1, broken)


@pytest.mark.parametrize("template, ok", [
    (Template("{history}", "{sid}"), True),
    (Template("{history}; ", "{sid}", history_separator="; "), True),
    (Template("history: {history}\nnext:", "{sid}"), False),          # text after the history
    (Template("{history}", "{sid}\n"), False),                        # "\n" after a SID is no separator
    (Template("{history}", " {sid}"), False),
])
def test_only_chaining_templates_are_accepted(template, ok):
    if ok:
        check_chaining(template, "prompts.x.sft.seq_rec")
    else:
        with pytest.raises(GenrecError) as error:
            check_chaining(template, "prompts.x.sft.seq_rec")
        assert error.value.key == "prompts.x.sft.seq_rec"


@pytest.mark.parametrize("template", [SEQUENCE["seq_rec"], Template("{history}; ", "{sid}", history_separator="; ")])
def test_every_row_is_supervised_once_behind_its_own_prompt(sample, template):
    items, index, train = sample
    text = ItemText.build(items, index)
    rows = recent_history(train, 20)
    examples = sequence_examples(template, text, rows)
    assert sum(len(e.targets) for e in examples) == len(train)
    assert len(examples) < len(train) / 3                      # the point: far fewer examples than rows
    expected = sorted(recommendation_prompt({"seq_rec": template}, text, h) + text.sids[t]
                      for h, t in zip(rows["history"], rows["target"]))
    found = []
    for e in examples:
        whole, start = e.prompt + e.response, len(e.prompt)
        for target in e.targets:            # each target's SID, found in order after the previous one
            at = whole.index(text.sids[target], start)
            found.append(whole[:at] + text.sids[target])
            start = at + len(text.sids[target])
    # the windows' texts hold the whole row contexts (the window's first item is the context's first)
    assert sorted(found) == expected


def test_sequence_labels_are_the_sid_tokens_behind_the_rows_prompt_tokens(sample):
    items, index, train = sample
    text = ItemText.build(items, index)
    model, tokenizer = build_tiny_backbone(tiny_backbone(), text.titles[:200], seed=0)
    add_sid_tokens(model, tokenizer, index_tokens(index), "mean")
    sid_ids = set(tokenizer.convert_tokens_to_ids(index_tokens(index)))
    rows = recent_history(train[train["user_id"] < 200], 5)
    template = Template("{history}; ", "{sid}", history_separator="; ")
    examples = sequence_examples(template, text, rows)
    data = SFTDataset(examples, tokenizer, max_length=512, sid_token_ids=sid_ids)
    by_row = {(h, t) for h, t in zip(map(tuple, rows["history"]), rows["target"])}
    depth = len(index[0])
    assert {len(sid) for sid in index.values()} == {depth}       # every SID as long: a target's tokens are `depth`
    checked = 0
    for e, item in zip(examples, (data[i] for i in range(len(data)))):
        ids, labels = item["input_ids"], item["labels"]
        assert tokenizer.eos_token_id not in ids
        labelled = [i for i, label in enumerate(labels) if label != IGNORE]
        assert all(ids[i] in sid_ids for i in labelled) and all(labels[i] == ids[i] for i in labelled)
        assert len(labelled) == sum(len(index[t]) for t in e.targets)
        # token by token: in front of each target's first SID token are exactly its row's prompt tokens
        window = list(e.history) + [e.target]
        starts = labelled[::depth]
        first = len(window) - len(e.targets)
        for k, at in enumerate(starts):
            history = window[:first + k][-5:]
            assert (tuple(history), window[first + k]) in by_row
            prompt = recommendation_prompt({"seq_rec": template}, text, history)
            assert ids[:at] == tokenizer(prompt, add_special_tokens=False)["input_ids"]
            checked += 1
    assert checked > 500


def test_the_collator_keeps_logits_from_the_first_label_on():
    batch = [{"input_ids": [5, 6, 7, 8, 9], "labels": [IGNORE, 6, IGNORE, 8, 9]},
             {"input_ids": [5, 6, 7], "labels": [IGNORE, IGNORE, 7]}]
    out = LeftPadCollator(pad_token_id=0)(batch)
    assert out["logits_to_keep"] == 5                     # 4 labelled-span positions + the one before
    assert torch.equal(out["labels"][1], torch.tensor([IGNORE, IGNORE, IGNORE, IGNORE, 7]))


def test_mixed_run_builds_sequence_seq_rec_and_row_item_tasks(sample):
    items, index, train = sample
    text = ItemText.build(items, index)
    examples = build_examples({"seq_rec": 1.0, "title2sid": 1.0}, SEQUENCE, text, train, 20, 0, "sequence")
    seq = [e for e in examples if e.task == "seq_rec"]
    assert seq and all(e.targets for e in seq) and sum(len(e.targets) for e in seq) == len(train)
    assert all(not e.targets for e in examples if e.task == "title2sid")
    with pytest.raises(GenrecError, match="begin the next row's prompt"):
        build_examples({"seq_rec": 1.0}, stage_templates(PROMPTS["short"], "sft"), text, train, 20, 0, "sequence")


def test_config_refuses_sequence_mode_with_an_eos_score_or_a_prompt_that_does_not_chain():
    datasets = read_yaml(ROOT / "config" / "datasets.yaml")
    good = load_config(ROOT / "config" / "config.yaml")             # the quickstart trains `tiny` per sequence
    tiny = good["backbones"]["tiny"]
    check_config(good, datasets)
    assert sft_job(good, "tiny", "sft").sft.seq_rec_mode == "sequence"           # the backbone's own overlay
    assert sft_job(good, "tiny", "sft").sft.batch_size == tiny["sft"]["batch_size"] != good["sft"]["batch_size"]
    assert sft_training(good, "sft").seq_rec_mode == "row"
    with pytest.raises(GenrecError) as error:
        check_config({**good, "evaluate": {**good["evaluate"], "score_eos": True}}, datasets)
    assert error.value.key == "evaluate.score_eos"
    short = {**good, "backbones": {**good["backbones"], "tiny": {**tiny, "prompts": "short"}}}
    with pytest.raises(GenrecError) as error:
        check_config(short, datasets)
    assert error.value.key == "prompts.short.sft.seq_rec"
    plain = {key: value for key, value in tiny.items() if key != "sft"} | {"prompts": "short"}
    everywhere = {**good, "backbones": {**good["backbones"], "tiny": plain},
                  "sft": {**good["sft"], "seq_rec_mode": "sequence"}}                  # `sft` for every backbone
    with pytest.raises(GenrecError) as error:
        check_config(everywhere, datasets)
    assert error.value.key == "prompts.short.sft.seq_rec"
    check_config({**everywhere, "sft": good["sft"]}, datasets)                       # per row, short chains no need
    typo = {**good, "backbones": {**good["backbones"], "tiny": {**tiny, "sft": {"seq_rec_mod": "sequence"}}}}
    with pytest.raises(GenrecError) as error:
        check_config(typo, datasets)
    assert "seq_rec_mod" in str(error.value) and error.value.key.startswith("backbones.tiny.sft")
