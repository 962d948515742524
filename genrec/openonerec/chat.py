"""OpenOneRec's chat data as text: its messages format, its think pattern, and Qwen3's chat template.

A sample stores `messages` as OpenOneRec's data/README.md defines them: a JSON list of {"role", "content"}, the
content a list of {"type": "text", "text"} parts. Training renders them with the backbone's chat template (Qwen3's;
a tiny backbone gets the same template and its two special tokens). `parse_chat` reads a rendering back.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from typing import TYPE_CHECKING

from genrec.errors import GenrecError

if TYPE_CHECKING:       # the data rules and the config check import this module without loading transformers
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

ROLES = ("system", "user", "assistant")
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
CHAT_TEMPLATE = files("genrec.openonerec").joinpath("qwen3_chat_template.jinja").read_text()
_TURN = re.compile(re.escape(IM_START) + r"(system|user|assistant)\n(.*?)" + re.escape(IM_END) + r"\n", re.DOTALL)
# the Qwen3 template writes a final answer after a think block, empty when the answer has no rationale
_EMPTY_THINK = "<think>\n\n</think>\n\n"


def messages_json(messages: list[dict]) -> str:
    """Messages with string contents -> OpenOneRec's stored form (content as a list of text parts)."""
    return json.dumps([{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in messages],
                      ensure_ascii=False)


def segments_json(text: str) -> str:
    """Plain text -> OpenOneRec's stored segments (one text part)."""
    return json.dumps([{"type": "text", "text": text}], ensure_ascii=False)


def text_messages(stored: str) -> list[dict]:
    """OpenOneRec's stored messages -> messages with string contents (qwen3_dataset.py `_convert_messages`)."""
    messages = []
    for position, message in enumerate(json.loads(stored)):
        if message.get("role") not in ROLES:
            raise GenrecError(f"message {position} has role {message.get('role')!r}", key=f"messages[{position}]",
                              fix=f"use one of {list(ROLES)}")
        content = message["content"]
        if isinstance(content, dict):
            content = [content]
        if isinstance(content, list):     # text parts; plain strings count as text, as in _convert_messages
            content = "".join(part if isinstance(part, str) else part["text"] for part in content
                              if isinstance(part, str) or part.get("type") == "text")
        messages.append({"role": message["role"], "content": content})
    return messages


def think_pattern(messages: list[dict]) -> list[dict]:
    """OpenOneRec's `add_think_pattern` (pretrain/onerec_llm/data/qwen3_dataset.py `_convert_messages`): an answer
    without a rationale gets an empty `<think>\\n</think>\\n` in front and its question `/no_think`; one with a
    non-empty `<think>…</think>` rationale gets `/think`."""
    out = [dict(m) for m in messages]
    for i, message in enumerate(out):
        if message["role"] != "assistant" or i == 0 or out[i - 1]["role"] != "user":
            continue
        rationale = re.search(r"<think>(.*?)</think>", message["content"], re.DOTALL)
        if rationale is None:
            out[i - 1]["content"] += "/no_think"
            message["content"] = "<think>\n</think>\n" + message["content"]
        else:
            out[i - 1]["content"] += "/think" if rationale.group(1).strip() else "/no_think"
    return out


def with_chat_template(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """Give a backbone Qwen3's chat template and its turn markers: a Qwen3 tokenizer has both; a tiny one gets the
    markers as special tokens, with embedding rows at the mean of the others (as SID tokens get theirs)."""
    from genrec.models.sid_vocab import add_sid_tokens

    add_sid_tokens(model, tokenizer, [IM_START, IM_END], special=True)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def render_chat(tokenizer: PreTrainedTokenizerBase, messages: list[dict], add_generation_prompt: bool = False,
                enable_thinking: bool | None = None) -> str:
    """The text a model reads for `messages` (HF `apply_chat_template` with the tokenizer's template)."""
    extra = {} if enable_thinking is None else {"enable_thinking": enable_thinking}
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                         **extra)


def parse_chat(text: str) -> list[dict]:
    """The messages a rendering holds (the inverse of `render_chat` for system, user and assistant turns): the
    empty think block the template writes before a final answer is dropped, a filled one kept in the content."""
    messages, end = [], 0
    for turn in _TURN.finditer(text):
        if turn.start() != end:
            raise GenrecError(f"text between chat turns at character {end}: {text[end:turn.start()][:60]!r}")
        content = turn.group(2)
        if turn.group(1) == "assistant" and content.startswith(_EMPTY_THINK):
            content = content[len(_EMPTY_THINK):]
        messages.append({"role": turn.group(1), "content": content})
        end = turn.end()
    if end != len(text):
        raise GenrecError(f"text after the last chat turn: {text[end:][:60]!r}")
    return messages
