"""RecIF-Bench-style tasks beside next-item recommendation (OpenOneRec's benchmarks/benchmark/tasks/v1_0), on the
test split, each decoded from the prompt the chat model was trained with (its checkpoint's `trained_with`):

- item understanding: the model is asked about a test target's SID and answers greedily; scored by whether the
  answer begins with the item's exact title (RecIF-Bench scores its video captions with an LLM judge, which this
  machine has not: the title is the part of an Amazon caption an exact match can check);
- query-conditioned recommendation: the history and words of the target's title asked about (the test rows'
  query chats, as OpenOneRec's interactive task pairs a user with a search keyword), ranked by the same
  constrained beam search as next-item recommendation, HR@K / NDCG@K.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from genrec.evaluate.beam_search import encode_prompts
from genrec.evaluate.metrics import bootstrap_interval
from genrec.evaluate.predict import predict_split
from genrec.evaluate.scoring import name_group_sizes, score
from genrec.evaluate.settings import EvalSettings
from genrec.evaluate.constrained import SIDTrie
from genrec.openonerec.chat import IM_END
from genrec.openonerec.data import QUERY_CHAT
from genrec.openonerec.settings import TaskSettings
from genrec.progress import progress
from genrec.prompts import ItemText, Template


def names_title(answer: str, title: str) -> bool:
    """Whether an answer begins with the exact title, as a word (the caption it was trained on is the title, then
    the description)."""
    answer = answer.strip()
    return bool(title) and answer.startswith(title) and (len(answer) == len(title) or not answer[len(title)].isalnum())


def drawn(n: int, size: int, seed: int) -> np.ndarray:
    """`size` of `n` positions (all where fewer), sorted, by a seeded draw."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


@torch.inference_mode()
def answer_greedily(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[str],
                    lengths: list[int], batch_size: int) -> list[str]:
    """Each prompt's greedy answer, up to the turn's end, a batch at a time with room for its longest `lengths`."""
    ends = [tokenizer.convert_tokens_to_ids(IM_END), tokenizer.eos_token_id]
    answers = []
    model.eval()
    for start in progress(range(0, len(prompts), batch_size), desc="item understanding", unit="batch"):
        batch = encode_prompts(tokenizer, prompts[start:start + batch_size], model.device)
        out = model.generate(**batch, max_new_tokens=max(lengths[start:start + batch_size]), do_sample=False,
                             eos_token_id=ends, pad_token_id=tokenizer.pad_token_id)
        for row in out[:, batch["input_ids"].shape[1]:].tolist():
            answers.append(tokenizer.decode(row, skip_special_tokens=False).split(IM_END)[0]
                           .replace(tokenizer.pad_token or "\x00", ""))
    return answers


def item_understanding(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, template: Template,
                       text: ItemText, test: pd.DataFrame, settings: TaskSettings) -> tuple[list[dict], dict]:
    """Drawn distinct test targets' SIDs asked about; the share of answers that name the item's title (each
    answer given room for its title and two tokens more)."""
    targets = np.unique(test["target"].to_numpy())
    targets = targets[drawn(len(targets), settings.item_samples, settings.seed)]
    rng = np.random.default_rng(settings.seed)
    prompts = [template.render_prompt(rng, sid=text.sids[item]) for item in targets]
    lengths = [len(ids) + 2 for ids in tokenizer([text.titles[i] for i in targets], add_special_tokens=False)["input_ids"]]
    answers = answer_greedily(model, tokenizer, prompts, lengths, settings.batch_size)
    hits = np.array([names_title(a, text.titles[i]) for a, i in zip(answers, targets)], dtype=float)
    records = [{"item": int(i), "title": text.titles[i], "answer": a, "exact_title": bool(h)}
               for i, a, h in zip(targets, answers, hits)]
    return records, {"task": "item_understanding", "n_items": len(targets),
                     "metrics": {"title_exact_match": round(float(hits.mean()), 6)},
                     "ci95": {"title_exact_match": [round(x, 6) for x in bootstrap_interval(hits)]}}


def query_rows(chat: pd.DataFrame, split: str) -> pd.DataFrame:
    """A split's query-conditioned chats as rows: user, history (the chat's), target and query."""
    rows = chat[(chat["source"] == QUERY_CHAT) & (chat["split"] == split)]
    meta = [json.loads(m) for m in rows["metadata"]]
    return pd.DataFrame({"user_id": [m["user_id"] for m in meta], "row": [m["row"] for m in meta],
                         "target": [m["target"] for m in meta], "keyword": [m["keyword"] for m in meta]})


def query_recommendation(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, template: Template,
                         text: ItemText, split: pd.DataFrame, queries: pd.DataFrame, trie: SIDTrie,
                         evaluation: EvalSettings, prompt_history: int, settings: TaskSettings) -> tuple[list[dict], dict]:
    """Drawn query chats of the split: the row's history and its query asked about, every item ranked by the
    constrained beam search; next-item recommendation's metrics."""
    queries = queries.iloc[drawn(len(queries), settings.query_samples, settings.seed)].reset_index(drop=True)
    rows = split.iloc[queries["row"].to_numpy()].reset_index(drop=True)
    if not (rows["target"].to_numpy() == queries["target"].to_numpy()).all():
        raise ValueError("the query chats do not match the split's rows: rebuild the OpenOneRec data")
    rng = np.random.default_rng(settings.seed)
    prompts = [template.render_prompt(rng, history=text.history_sids(list(h)[-prompt_history:],
                                                                     template.history_separator), keyword=k)
               for h, k in zip(rows["history"], queries["keyword"])]
    records = predict_split(model, tokenizer, rows, text, {}, trie, evaluation, prompt_history, prompts=prompts)
    for record in records:          # `row`: the drawn chat's position; `split_row`: its row of the split
        record["query"] = str(queries["keyword"].iloc[record["row"]])
        record["split_row"] = int(queries["row"].iloc[record["row"]])
    return records, {"task": "query_recommendation", **score(records, name_group_sizes(text.sids), evaluation.ks)}
