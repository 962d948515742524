"""OpenOneRec's chat SFT (pretrain/examples/posttrain_sft.sh, dataset_config/sft.json): the stage-2 model trained on
the recommendation chat data mixed with general chat, each conversation rendered by Qwen3's chat template after
OpenOneRec's think pattern, the loss on the assistant turns only (qwen3_dataset.py `_get_assistant_mask`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import pandas as pd
from transformers import PreTrainedTokenizerBase, set_seed

from genrec.errors import GenrecError
from genrec.models.backbone import load_backbone
from genrec.models.checkpoint import SID_INDEX, TrainedWith, save_final_model
from genrec.openonerec.chat import IM_END, IM_START, render_chat, text_messages, think_pattern
from genrec.openonerec.data import REC_CHAT
from genrec.openonerec.itemic import SID_BEGIN, SID_END
from genrec.openonerec.pretrain import mixture
from genrec.openonerec.settings import SFT, OpenOneRecJob, OpenOneRecPrompts
from genrec.prompts import RECOMMENDATION_TASK
from genrec.tokenize.index import index_json
from genrec.sft.dataset import IGNORE, SFTDataset
from genrec.sft.train import fit

log = logging.getLogger(__name__)

# an assistant turn's content and its closing marker: what the loss covers
_ANSWER = re.compile(re.escape(f"{IM_START}assistant\n") + r"(.*?" + re.escape(IM_END) + ")", re.DOTALL)


def answer_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of every assistant turn's content with its `<|im_end|>` in a rendered conversation."""
    return [match.span(1) for match in _ANSWER.finditer(text)]


class ChatDataset(SFTDataset):
    """Conversations rendered for training: think pattern, chat template, the tokens of every assistant answer (and
    its `<|im_end|>`) the labels. A conversation longer than `max_length` keeps its first tokens; one left with no
    answer token is dropped (counted in `dropped`)."""

    def __init__(self, conversations: list[list[dict]], tokenizer: PreTrainedTokenizerBase, max_length: int):
        self.items, self.dropped = [], 0
        texts = [render_chat(tokenizer, think_pattern(messages)) for messages in conversations]
        encoded = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        for text, ids, offsets in zip(texts, encoded["input_ids"], encoded["offset_mapping"]):
            spans = answer_spans(text)
            labels = [token if any(start <= begin and end <= stop for start, stop in spans) else IGNORE
                      for token, (begin, end) in zip(ids, offsets)]
            ids, labels = ids[:max_length], labels[:max_length]
            if all(label == IGNORE for label in labels[1:]):
                self.dropped += 1
                continue
            self.items.append((ids, labels))


def _decoding_prompt(tokenizer: PreTrainedTokenizerBase, system: str, user: str, answer: str,
                     fields: dict[str, str]) -> tuple[str, str]:
    """A chat rendered as training renders it, cut where the assistant's `answer` starts: the prompt (a template:
    braces escaped, each marker of `fields` back as its placeholder) and the text after the answer."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user},
                {"role": "assistant", "content": answer}]
    text = render_chat(tokenizer, think_pattern(messages)).replace("{", "{{").replace("}", "}}")
    for name, marker in fields.items():
        text = text.replace(marker, "{" + name + "}")
    return text.partition(answer.replace("{", "{{").replace("}", "}}"))[::2]


def recommendation_templates(tokenizer: PreTrainedTokenizerBase, prompts: OpenOneRecPrompts) -> dict:
    """The prompt set a chat model is decoded from (its checkpoint's `trained_with`), each task's chat with the
    first system prompt and question of its pool, rendered as training renders it, up to the answer:
    - `seq_rec` (next item, `prompts.rec`) and `query_rec` (query-conditioned, `prompts.query_rec`: {keyword} the
      query) up to the answer's `<|sid_begin|>` (where OpenOneRec's benchmark and RL start decoding,
      `utils_by_pid.py`, `onerec_recipe.py`); the response is the SID and `<|sid_end|>`; the history is the items'
      codes between the markers;
    - `item_understand` (`prompts.item_understand`: the item's SID asked about) up to its caption."""
    history, sid, keyword = "\x00history\x00", "\x00sid\x00", "\x00keyword\x00"
    query = f"{SID_BEGIN}{history}{SID_END}"
    answer = f"{SID_BEGIN}{sid}{SID_END}"
    templates = {}
    for task, pool, user in (("seq_rec", prompts.rec, prompts.rec.user[0].format(query=query)),
                             ("query_rec", prompts.query_rec,
                              prompts.query_rec.user[0].format(query=query, keyword=keyword))):
        prompt, rest = _decoding_prompt(tokenizer, pool.system[0], user, answer, {"history": history,
                                                                              "keyword": keyword})
        if not rest.startswith(IM_END):
            raise GenrecError("the chat template does not write the answer's SID as the turn's text",
                              fix="use Qwen3's chat template (genrec.openonerec.chat.with_chat_template)")
        templates[task] = {"prompt": prompt + SID_BEGIN, "response": "{sid}" + SID_END,
                           "history_separator": SID_END + SID_BEGIN}
    caption = "\x00caption\x00"
    prompt, rest = _decoding_prompt(tokenizer, prompts.item_understand.system[0],
                                    prompts.item_understand.user[0].format(sid=f"{SID_BEGIN}{sid}{SID_END}"), caption,
                                    {"sid": sid})
    if not rest.startswith(IM_END):
        raise GenrecError("the chat template does not write the item's caption as the turn's text",
                          fix="use Qwen3's chat template (genrec.openonerec.chat.with_chat_template)")
    templates["item_understand"] = {"prompt": prompt, "response": "{title}" + IM_END}
    return {"sft": {RECOMMENDATION_TASK["sid"]: templates.pop("seq_rec"), **templates}}


def chat_conversations(chat: pd.DataFrame) -> list[list[dict]]:
    """A chat file's rows as messages with string contents."""
    return [text_messages(stored) for stored in chat["messages"]]


def run_chat_sft(job: OpenOneRecJob, model_dir: str | Path, rec_chat: pd.DataFrame, general_chat: pd.DataFrame,
                 index: dict[int, list[str]], out_dir: str | Path, work_dir: str | Path) -> dict:
    """Chat SFT from stage 2's model: the recommendation chat samples of the training split (next item, item
    understanding) mixed with the general chats; validation on drawn valid rows' recommendation chats and the
    general corpus's valid share. The checkpoint records the prompt it is decoded from and its SID index."""
    if job.prompts is None:
        raise GenrecError("chat SFT needs the prompts its evaluation prompt is written from", key="openonerec.prompts")
    started = time.monotonic()
    set_seed(job.sft.seed)
    model, tokenizer = load_backbone(model_dir, job.backbone.dtype)
    templates = recommendation_templates(tokenizer, job.prompts)
    rec_train = chat_conversations(rec_chat[rec_chat["split"] == "train"])
    general_train = chat_conversations(general_chat[general_chat["split"] == "train"])
    train = mixture(rec_train, general_train, job.general_share, job.sft.seed)
    valid_rows = rec_chat[(rec_chat["split"] == "valid") & (rec_chat["source"] == REC_CHAT)]
    if job.valid_rows is not None and len(valid_rows) > job.valid_rows:
        valid_rows = valid_rows.sample(job.valid_rows, random_state=job.sft.seed)
    valid = [*chat_conversations(valid_rows), *chat_conversations(general_chat[general_chat["split"] == "valid"])]
    train_set = ChatDataset(train, tokenizer, job.sft.max_length)
    valid_set = ChatDataset(valid, tokenizer, job.sft.max_length)
    log.info("chat SFT: %d conversations (%d recommendation), %d tokens; valid %d", len(train_set), len(rec_train),
             train_set.tokens(), len(valid_set))
    trainer, result, run = fit(model, tokenizer, train_set, valid_set, job.sft, work_dir)
    info = {"stage": SFT, "job": json.loads(job.to_json()), "conversations": len(train_set),
            "recommendation_conversations": len(rec_train), "general_conversations": len(train) - len(rec_train),
            "dropped_too_long": train_set.dropped, "train_tokens": train_set.tokens(), "valid_conversations": len(valid_set),
            "parameters": model.num_parameters(), "vocab_size": len(tokenizer), "steps": trainer.state.global_step,
            "epochs_run": trainer.state.epoch, "best_eval_loss": trainer.state.best_metric,
            "train_loss": result.training_loss, "resumed_from": run["resumed_from"],
            "epoch_seconds": run["clock"].seconds, "seconds": round(time.monotonic() - started, 1),
            "log_history": trainer.state.log_history,
            **TrainedWith("openonerec", templates, job.max_history, "sid").record()}
    save_final_model(trainer, tokenizer, out_dir, info, work_dir, extra_texts={SID_INDEX: index_json(index)})
    return info
