"""General-domain text and chat for OpenOneRec's stages, from a package pip installs (no hub download here).

OpenOneRec mixes Hugging Face corpora into its stages (data/general_text/{pretrain,sft}.csv: Nemotron-CC,
OpenMathReasoning, Infinity-Instruct, ...). On a machine without the hub, the CPU grid reads the Chit Chat
Challenge dataset (BYU PCC lab; the PyPI package `chitchat-dataset`, MIT licence): 7,168 human-human conversations,
131 k turns. It serves both formats: a conversation's turns as plain text (segments: the tiny backbone's general
pre-training and stage 2's general share) and as alternating user / assistant messages (chat: chat SFT's general
share and distillation's prompts). Fixed shares of conversations, chosen by a hash of their id, are held out: one
for the general-text perplexity no stage trains or selects on, one for the stages' validation loss.
"""

from __future__ import annotations

import json
import zlib
from importlib.resources import files

import pandas as pd

from genrec.errors import GenrecError
from genrec.openonerec.chat import messages_json, segments_json

CORPORA = {"chitchat": ("chitchat_dataset", "dataset.json", "MIT", "Chit Chat Challenge (BYU PCC lab)")}
GENERAL_PRETRAIN, GENERAL_CHAT = "General_Pretrain", "General_Chat"


def conversations(corpus: str) -> dict[str, list[str]]:
    """Each conversation (by id) as its turns: a speaker's consecutive messages joined by newlines."""
    if corpus not in CORPORA:
        raise GenrecError(f"unknown general corpus {corpus!r}", key="openonerec.general.corpus",
                          fix=f"use one of {sorted(CORPORA)}")
    package, name, _, _ = CORPORA[corpus]
    try:
        raw = json.loads(files(package).joinpath(name).read_text(encoding="utf-8"))
    except ModuleNotFoundError:
        raise GenrecError(f"the general corpus {corpus!r} comes from the package {package!r}, which is not "
                          "installed", fix="pip install -e . (it is a dependency of genrec)") from None
    out = {}
    for cid, conversation in sorted(raw.items()):
        turns: list[tuple[str, list[str]]] = []      # (sender, texts): the file's own grouping is not always by turn
        for message in (m for group in conversation["messages"] for m in group):
            text = message["text"].strip()
            if not text:
                continue
            if turns and turns[-1][0] == message["sender"]:
                turns[-1][1].append(text)
            else:
                turns.append((message["sender"], [text]))
        out[cid] = ["\n".join(texts) for _, texts in turns]
    return out


def general_split(conversation: str, heldout_percent: int, valid_percent: int) -> str:
    """A conversation's share by a hash of its id, stable across runs and machines: `heldout` (the perplexity no
    stage trains or selects on), `valid` (the stages' validation loss) or `train`."""
    bucket = zlib.crc32(conversation.encode()) % 100
    return "heldout" if bucket < heldout_percent else "valid" if bucket < heldout_percent + valid_percent else "train"


def general_data(corpus: str, heldout_percent: int, valid_percent: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The corpus as segments (a conversation's turns as text) and chat (its turns as user / assistant messages,
    ending on an assistant turn), each row marked `train`, `valid` or `heldout`."""
    segments, chats = [], []
    for cid, turns in conversations(corpus).items():
        turns = [t for t in turns if t]
        split = general_split(cid, heldout_percent, valid_percent)
        meta = json.dumps({"conversation": cid})
        if turns:
            segments.append((cid, split, segments_json("\n".join(turns)), meta))
        exchange = turns[: len(turns) // 2 * 2]
        if exchange:
            messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(exchange)]
            chats.append((cid, split, messages_json(messages), meta))
    return (pd.DataFrame({"uuid": [r[0] for r in segments], "source": GENERAL_PRETRAIN, "split": [r[1] for r in segments],
                          "segments": [r[2] for r in segments], "metadata": [r[3] for r in segments]}),
            pd.DataFrame({"uuid": [r[0] for r in chats], "source": GENERAL_CHAT, "split": [r[1] for r in chats],
                          "messages": [r[2] for r in chats], "metadata": [r[3] for r in chats]}))
