"""OpenOneRec's two data formats, built from a dataset's splits and its itemic tokens (DESIGN.md's artifact table,
"OpenOneRec data").

- *Segments* (pre-training, plain text): each user's training sequence written as itemic tokens with no prompt
  (data/onerec_data/pretrain/video_rec.py), and each item's caption behind its tokens in one of three templates
  (pretrain/item_understand.py).
- *Chat* (SFT and RL): [system, user, assistant] messages. Next-item recommendation: the row's history as itemic
  tokens in the question, the target in the answer (sft/video_rec.py), for every row of every split; item
  understanding: an item's tokens in the question, its caption in the answer (sft/item_understand.py).

Both follow OpenOneRec's parquet layout (data/README.md): uuid, source, metadata (JSON), and segments or messages
(JSON), plus a `split` column: which of our splits a chat row comes from (segments are all `train`; general text
has a `heldout` share), so training reads `train` only (`read_split`) and evaluation its split's rows. Prompts
are drawn with a seeded generator and ids derived from what a sample is, so a rebuild writes the same files.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from genrec.data.sequences import user_sequences
from genrec.embed.encode import item_texts
from genrec.errors import GenrecError
from genrec.io import atomic_outputs
from genrec.openonerec.chat import messages_json, segments_json
from genrec.openonerec.itemic import itemic_text
from genrec.openonerec.settings import OpenOneRecData
from genrec.progress import progress
from genrec.sft.example import recent_history

SEGMENTS_SCHEMA = pa.schema([("uuid", pa.string()), ("source", pa.string()), ("split", pa.string()),
                             ("segments", pa.string()), ("metadata", pa.string())])
CHAT_SCHEMA = pa.schema([("uuid", pa.string()), ("source", pa.string()), ("split", pa.string()),
                         ("messages", pa.string()), ("metadata", pa.string())])
# OpenOneRec's RecIF_* sources, "Video" read as "Item" (its ItemUnderstand ones keep their names)
HISTORY_PRETRAIN, CAPTION_PRETRAIN = "RecIF_ItemRec_Pretrain", "RecIF_ItemUnderstand_Pretrain"
REC_CHAT, UNDERSTAND_CHAT, QUERY_CHAT = "RecIF_ItemRec", "RecIF_ItemUnderstand", "RecIF_QueryRec"
_IDS = uuid.UUID("6f0e4c1a-2d1b-4c55-9d0e-0a1c0ffee123")      # namespace of the samples' uuid5 ids


def captions(items: pd.DataFrame, max_chars: int | None) -> list[str]:
    """Each item's caption on Amazon data (OpenOneRec's `dense_caption`): its title and description, row i = item i."""
    texts = item_texts(items, ("title", "description"), key="openonerec.data")
    return [text[:max_chars].rstrip() if max_chars else text for text in texts]


def write_caption(template: str | dict[str, str], sid: str, caption: str) -> str:
    """A pre-training caption segment; a mapping template is written as JSON (item_understand.py's first format)."""
    if isinstance(template, dict):
        return json.dumps({k: v.format(sid=sid, caption=caption) for k, v in template.items()}, ensure_ascii=False)
    return template.format(sid=sid, caption=caption)


def query_keyword(title: str, words: int, rng: np.random.Generator) -> str:
    """A search query for an item: `words` of its title's words (those with a letter or digit), drawn, kept in the
    title's order (OpenOneRec's interactive_rec pairs a user with a search keyword; ours is the target's words)."""
    candidates = [w for w in title.split() if any(c.isalnum() for c in w)]
    if len(candidates) <= words:
        return " ".join(candidates)
    return " ".join(candidates[i] for i in sorted(rng.choice(len(candidates), size=words, replace=False)))


def _sample_id(*key: object) -> str:
    """A sample's uuid from what it is (source, split, row or user or item): stable across rebuilds and prompt edits."""
    return str(uuid.uuid5(_IDS, "/".join(map(str, key))))


def _itemic(index: dict[int, list[str]], items) -> str:
    try:
        return "".join(itemic_text(index[int(item)]) for item in items)
    except KeyError as missing:
        raise GenrecError(f"item {missing} has no SID in the index", key="openonerec",
                          fix="build the index from this dataset's items") from None


def pretrain_segments(train: pd.DataFrame, items: pd.DataFrame, index: dict[int, list[str]],
                      settings: OpenOneRecData) -> pd.DataFrame:
    """Every user's training sequence as itemic text (its last max_history + max_targets items), then every
    item's caption behind its tokens."""
    rng = np.random.default_rng(settings.seed)
    keep = settings.max_history + settings.max_targets
    rows = [(HISTORY_PRETRAIN, s.user, _itemic(index, s.items[-keep:]), {"user_id": s.user})
            for s in progress(user_sequences(train), desc="history segments", unit="user")]
    templates = settings.prompts.captions
    for item, caption in enumerate(progress(captions(items, settings.max_caption_chars), desc="caption segments",
                                            unit="item")):
        if caption:
            text = write_caption(templates[rng.integers(len(templates))], _itemic(index, [item]), caption)
            rows.append((CAPTION_PRETRAIN, item, text, {"item_id": item}))
    return pd.DataFrame({"uuid": [_sample_id(source, key) for source, key, _, _ in rows],
                         "source": [r[0] for r in rows], "split": "train",
                         "segments": [segments_json(r[2]) for r in rows],
                         "metadata": [json.dumps(r[3]) for r in rows]})


def chat_samples(splits: dict[str, pd.DataFrame], items: pd.DataFrame, index: dict[int, list[str]],
                 settings: OpenOneRecData) -> pd.DataFrame:
    """Next-item recommendation for every row of every split (the row's most recent max_history items asked
    about, its target answered), then item understanding for every item with a caption (split `train`), then
    query-conditioned recommendation for a drawn `query_share` of each split's rows (the history and words of the
    target's title asked about, the target answered; the query in the metadata)."""
    rng = np.random.default_rng(settings.seed)
    rec, understand = settings.prompts.rec, settings.prompts.item_understand

    def draw(pool: tuple[str, ...]) -> str:
        return pool[rng.integers(len(pool))]

    rows = []
    for split, table in splits.items():
        shown = recent_history(table, settings.max_history)
        for row, (user, history, target) in enumerate(progress(
                zip(shown["user_id"], shown["history"], shown["target"]), desc=f"{split} chat", total=len(shown),
                unit="row")):
            messages = [{"role": "system", "content": draw(rec.system)},
                        {"role": "user", "content": draw(rec.user).format(query=_itemic(index, history))},
                        {"role": "assistant", "content": _itemic(index, [target])}]
            rows.append((REC_CHAT, split, row, messages, {"user_id": int(user), "row": row, "target": int(target)}))
    for item, caption in enumerate(progress(captions(items, settings.max_caption_chars), desc="item chat",
                                            unit="item")):
        if caption:
            messages = [{"role": "system", "content": draw(understand.system)},
                        {"role": "user", "content": draw(understand.user).format(sid=_itemic(index, [item]))},
                        {"role": "assistant", "content": caption}]
            rows.append((UNDERSTAND_CHAT, "train", item, messages, {"item_id": item}))
    titles = items["title"].fillna("").astype(str).str.strip().tolist()
    ask = settings.prompts.query_rec
    for split, table in splits.items():      # drawn after the others: their draws stay as they were
        shown = recent_history(table, settings.max_history)
        drawn = np.sort(rng.choice(len(shown), size=round(settings.query_share * len(shown)), replace=False))
        for row in progress(drawn, desc=f"{split} query chat", unit="row"):
            user, history, target = shown["user_id"].iloc[row], shown["history"].iloc[row], shown["target"].iloc[row]
            keyword = query_keyword(titles[int(target)], settings.query_words, rng)
            if not keyword:
                continue
            messages = [{"role": "system", "content": draw(ask.system)},
                        {"role": "user", "content": draw(ask.user).format(query=_itemic(index, history), keyword=keyword)},
                        {"role": "assistant", "content": _itemic(index, [target])}]
            rows.append((QUERY_CHAT, split, int(row), messages,
                         {"user_id": int(user), "row": int(row), "target": int(target), "keyword": keyword}))
    return pd.DataFrame({"uuid": [_sample_id(source, split, key) for source, split, key, _, _ in rows],
                         "source": [r[0] for r in rows], "split": [r[1] for r in rows],
                         "messages": [messages_json(r[3]) for r in rows], "metadata": [json.dumps(r[4]) for r in rows]})


def write_openonerec_data(segments: pd.DataFrame, chat: pd.DataFrame, segments_path: str | Path,
                          chat_path: str | Path) -> None:
    """Both files, with their schemas, or neither."""
    with atomic_outputs(segments_path, chat_path) as (segments_tmp, chat_tmp):
        pq.write_table(pa.Table.from_pandas(segments, schema=SEGMENTS_SCHEMA, preserve_index=False), segments_tmp)
        pq.write_table(pa.Table.from_pandas(chat, schema=CHAT_SCHEMA, preserve_index=False), chat_tmp)


def read_openonerec_table(path: str | Path, schema: pa.Schema) -> pd.DataFrame:
    """A segments or chat file, checked against its schema."""
    table = pq.read_table(path)
    if not table.schema.equals(schema, check_metadata=False):
        raise GenrecError(f"{Path(path).name} has columns {table.schema.names}, expected {schema.names}", path=path,
                          fix="rebuild it with the openonerec_data rule")
    return table.to_pandas()


def read_split(path: str | Path, schema: pa.Schema, split: str) -> pd.DataFrame:
    """The samples of one split: a training stage reads `train` only, so no valid, test or held-out text reaches
    it."""
    table = read_openonerec_table(path, schema)
    return table[table["split"] == split].reset_index(drop=True)
