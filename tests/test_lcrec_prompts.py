"""LC-Rec's index-language alignment: the item tasks it adds to SFT, and its prompt set (RUCAIBox/LC-Rec @ e6f1b3b,
prompt.py and data.py), rendered the way its datasets render them."""

from pathlib import Path

import numpy as np
import pandas as pd

from genrec.config import load_config
from genrec.prompts import ItemText, recommendation_prompt, stage_templates
from genrec.sft.tasks import build_examples, task_examples

ROOT = Path(__file__).resolve().parents[1]
WRAPPER = ("Below is an instruction that describes a task. Write a response that appropriately completes the "
           "request.\n\n### Instruction:\n{instruction}\n\n### Response:")
# item 2 has no description; items 3 and 4 share a title and a description
TEXT = ItemText(["<a_0><b_0>", "<a_0><b_1>", "<a_1><b_0>", "<a_1><b_1>", "<a_2><b_0>"],
                ["Tape", "Glue", "Clamp", "Ruler", "Ruler"],
                ["sticks things", "also sticks", "", "measures", "measures"])
ROWS = pd.DataFrame({"user_id": [0, 0, 1], "history": [[0], [0, 1], [2]], "target": [1, 3, 4], "timestamp": [1, 2, 1]})


def lcrec() -> dict:
    return stage_templates(load_config(ROOT / "config" / "config.yaml")["prompts"]["lcrec"], "sft")


def test_lcrec_set_holds_each_task_group_of_prompt_py_in_its_wrapper():
    templates = lcrec()
    counts = {task: len(t.instructions) for task, t in templates.items()}
    # seqrec 17; item2index 6 + 6 + 7; index2item 6 + 6 + 5; fusionseqrec 4 + 4 + 4
    assert counts == {"seq_rec": 17, "title2sid": 6, "description2sid": 6, "titledesc2sid": 7, "sid2title": 6,
                      "sid2description": 6, "sid2titledesc": 5, "hist2title": 4, "hist2description": 4,
                      "title_hist2sid": 4}
    assert all(t.prompt == WRAPPER for t in templates.values())
    assert templates["seq_rec"].instructions[0] == ("The user has interacted with items {history} in chronological "
                                                   "order. Can you predict the next possible item that the user may "
                                                   "expect?")
    assert templates["sid2titledesc"].response == "{title}\n\n{description}"
    # evaluation decodes from seqrec's prompt 0, the history joined by LC-Rec's ", "
    evaluate = stage_templates(load_config(ROOT / "config" / "config.yaml")["prompts"]["lcrec"], "evaluate")
    prompt = recommendation_prompt(evaluate, TEXT, [0, 1])
    assert prompt == WRAPPER.format(instruction=templates["seq_rec"].instructions[0].format(
        history="<a_0><b_0>, <a_0><b_1>"))


def test_the_new_item_tasks_ask_by_their_text_and_skip_items_without_it():
    templates, rng = lcrec(), np.random.default_rng(0)
    by_task = {task: task_examples(task, templates, TEXT, ROWS, rng)
               for task in ("description2sid", "titledesc2sid", "sid2description", "sid2titledesc")}
    # one example per distinct question, answered by the last item that has it (items 3 and 4 ask alike)
    assert [e.target for e in by_task["description2sid"]] == [0, 1, 4]
    assert [e.target for e in by_task["titledesc2sid"]] == [0, 1, 4]
    assert [e.target for e in by_task["sid2description"]] == [0, 1, 3, 4]       # every SID differs
    assert [e.target for e in by_task["sid2titledesc"]] == [0, 1, 3, 4]
    for e in by_task["titledesc2sid"]:
        assert f'"{TEXT.titles[e.target]}"' in e.prompt
        assert TEXT.descriptions[e.target] in e.prompt and e.response == TEXT.sids[e.target]
    for e in by_task["sid2titledesc"]:
        assert TEXT.sids[e.target] in e.prompt
        assert e.response == f"{TEXT.titles[e.target]}\n\n{TEXT.descriptions[e.target]}"
    for e in by_task["sid2description"]:
        assert e.response == TEXT.descriptions[e.target]


def test_lcrecs_task_mix_builds_every_task_with_instructions_drawn_per_example():
    weights = {task: 1.0 for task in lcrec()}
    examples = build_examples(weights, lcrec(), TEXT, ROWS, prompt_history=20, seed=0)
    assert {e.task for e in examples} == set(weights)
    seq = [e for e in examples if e.task == "seq_rec"]
    assert len(seq) == len(ROWS) and all(e.prompt.startswith(WRAPPER.split("{")[0]) for e in seq)
    # the instruction is drawn per example from the 17 (once per run here; LC-Rec redraws at every access)
    templates = lcrec()
    allowed = {i.format(history="<a_0><b_0>") for i in templates["seq_rec"].instructions}
    drawn = set()
    for seed in range(40):
        first = next(e for e in build_examples({"seq_rec": 1.0}, templates, TEXT, ROWS, 20, seed)
                     if e.history == (0,))
        drawn.add(first.prompt.split("### Instruction:\n")[1].split("\n\n### Response:")[0])
    assert drawn <= allowed and len(drawn) >= 10
