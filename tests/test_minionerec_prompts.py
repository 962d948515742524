"""The `minionerec` prompt set against the strings MiniOneRec's `data.py` builds (AkaliKong/MiniOneRec at 81b4ba9).

The expected strings are written here from the release's formatting rules (cited by line), fed with the columns of
MiniOneRec's own released test CSV; ours are rendered from our item table, index and split rows of the same
release. They agree only if the templates, the separators, the item ids, titles and SIDs all line up.
"""

from __future__ import annotations

import ast

import numpy as np
import pandas as pd
import pytest
from conftest import RELEASE, ROOT, requires_shared

from genrec.config import read_yaml
from genrec.data.minionerec_release import load_minionerec_release
from genrec.prompts import ItemText, stage_templates
from genrec.sft.tasks import task_examples

ROWS = 5
CATEGORY = "industrial and scientific items"          # evaluate.py:55 / sft.py:122, category_dict
# data.py:526-531: the preamble every SFT and evaluation prompt starts with (note the space after "request.")
PREAMBLE = ("Below is an instruction that describes a task, paired with an input that provides further context. "
            "Write a response that appropriately completes the request. \n\n### Instruction:\n")


def user_input(text: str) -> str:
    """data.py:501-505: the input block, left open after "### Response:\\n" for the response."""
    return f"### User Input: \n{text}\n\n### Response:\n"


@pytest.fixture(scope="module")
def release():
    files = {"test": RELEASE / "test.csv", "item": RELEASE / "Industrial_and_Scientific.item.json",
             "index": RELEASE / "Industrial_and_Scientific.index.json"}
    loaded = load_minionerec_release(files)
    text = ItemText.build(loaded.items, loaded.index, CATEGORY)
    csv = pd.read_csv(RELEASE / "test.csv", nrows=ROWS)
    return text, loaded.splits["test"].head(ROWS), csv


def rendered(release, stage: str, task: str) -> list:
    text, rows, _ = release
    templates = stage_templates(read_yaml(ROOT / "config" / "config.yaml")["prompts"]["minionerec"], stage)
    return task_examples(task, templates, text, rows, np.random.default_rng(0))


def columns(csv: pd.DataFrame, row: int) -> dict:
    r = csv.iloc[row]
    return {"sids": ast.literal_eval(r["history_item_sid"]), "titles": ast.literal_eval(r["history_item_title"]),
            "sid": r["item_sid"], "title": r["item_title"]}


@requires_shared
def test_sft_recommendation_prompts_are_minionerecs(release):
    csv = release[2]
    seq_rec, hist2title = rendered(release, "sft", "seq_rec"), rendered(release, "sft", "hist2title")
    title_hist2sid = rendered(release, "sft", "title_hist2sid")
    title_hist2title = rendered(release, "sft", "title_hist2title")
    for row in range(ROWS):
        c = columns(csv, row)
        # SidSFTDataset, data.py:507-521 and 525-557: SIDs joined by ", ", the target SID then "\n" (then EOS)
        assert seq_rec[row].prompt == PREAMBLE + "Can you predict the next possible item that the user may expect?\n\n" + \
            user_input(f"The user has interacted with items {', '.join(c['sids'])} in chronological order. "
                       "Can you predict the next possible item that the user may expect?")
        assert seq_rec[row].response == c["sid"] + "\n"
        # FusionSeqRecDataset, data.py:1423-1424 and 1471-1500: the title branch only
        assert hist2title[row].prompt == PREAMBLE + \
            "Can you recommend the next item for the user based on their interaction history?\n\n" + \
            user_input(f"The user has sequentially interacted with items {', '.join(c['sids'])}. Can you recommend "
                       "the next item for him? Tell me the title of the item")
        assert hist2title[row].response == c["title"] + "\n"
        # TitleHistory2SidSFTDataset, data.py:1597-1627 and 1630-1650: quoted titles joined by ", "
        quoted = ", ".join(f'"{t}"' for t in c["titles"])
        assert title_hist2sid[row].prompt == PREAMBLE + "Based on the user's historical interaction with item " \
            "titles, predict the semantic ID of the next item they may expect.\n\n" + \
            user_input(f"The user has interacted with the following {CATEGORY} items in chronological order: "
                       f"{quoted}. Can you predict the next item the user may expect?")
        assert title_hist2sid[row].response == c["sid"] + "\n"
        # SFTData, data.py:83-99 and 102-107: one of 11 instructions, "\n \n" after it, titles joined by ",\t",
        # the target title quoted
        prompt = title_hist2title[row].prompt
        instruction = prompt[len(PREAMBLE):prompt.index("\n \n")]
        assert instruction.startswith(("Given a list of", "Considering the", "Based on the user's current",
                                       "Reflecting on", "In light of", "Taking into account", "Given the user's",
                                       "In response to", "With respect to", "Bearing in mind", "In relation to"))
        tabbed = ",\t".join(f'"{t}"' for t in c["titles"])
        assert prompt == PREAMBLE + instruction + "\n \n" + \
            user_input(f"The user has palyed the following {CATEGORY}s before: {tabbed}")
        assert title_hist2title[row].response == f'"{c["title"]}"\n'


@requires_shared
def test_rl_and_evaluation_prompts_are_minionerecs(release):
    csv = release[2]
    evaluate = [e.prompt for e in rendered(release, "evaluate", "seq_rec")]
    rl_seq, rl_titles = rendered(release, "rl", "seq_rec"), rendered(release, "rl", "title_hist2sid")
    for row in range(ROWS):
        c = columns(csv, row)
        # EvalSidDataset, data.py:623-637 and 641-659: other words than SFT's, same preamble
        assert evaluate[row] == PREAMBLE + "Can you predict the next possible item that the user may expect?\n\n" + \
            user_input("Can you predict the next possible item the user may expect, given the following "
                       f"chronological interaction history: {', '.join(c['sids'])}")
        # SidDataset, data.py:424-447: no preamble; the completion is the SID then "\n"
        assert rl_seq[row].prompt == user_input(
            f"The user has interacted with items {', '.join(c['sids'])} in chronological order. "
            "Can you predict the next possible item that the user may expect?")
        assert rl_seq[row].response == c["sid"] + "\n"
        # RLSeqTitle2SidDataset, data.py:1009-1017 and 1045-1075
        quoted = ", ".join(f'"{t}"' for t in c["titles"])
        assert rl_titles[row].prompt == user_input(
            f"Given the title sequence of user historical interactive items: {quoted}, can you recommend a suitable "
            "next item for the user?")


@requires_shared
def test_item_prompts_end_with_their_answer_as_released(release):
    """SidItemFeatDataset (data.py:781-792) and RLTitle2SidDataset (data.py:933-944) build the prompt with the
    response filled in, so the prompt ends with the answer the label then repeats; the set keeps that."""
    text = release[0]
    title2sid = {e.target: e for e in rendered(release, "sft", "title2sid")}
    sid2title = {e.target: e for e in rendered(release, "sft", "sid2title")}
    item = int(release[1]["target"].iloc[0])
    sid, title = text.sids[item], text.titles[item]
    head = PREAMBLE + "Answer the question about item identification.\n\n"
    assert title2sid[item].prompt == head + user_input(f"Which item has the title: {title}?") + sid
    assert title2sid[item].response == sid + "\n"
    assert sid2title[item].prompt == head + user_input(f'What is the title of item "{sid}"?') + title
    assert sid2title[item].response == title + "\n"
    # one example per distinct title / SID (the release keys them by a dict): the 31 items sharing a SID
    assert len(sid2title) == len(set(text.sids)) < len(text.sids)
