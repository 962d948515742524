"""The SID index format shared with MiniOneRec and LC-Rec: {"item_id": ["<a_x>", "<b_y>", ...]}.

Level l uses the letter chr(ord('a') + l), so a 3-level code plus a deduplication level reads
`<a_42><b_17><c_203><d_0>`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from genrec.errors import GenrecError
from genrec.io import read_json

SID_TOKEN = re.compile(r"<([a-z])_(\d+)>")


def parse_sid(text: str) -> list[str]:
    """Split a concatenated SID string into its tokens; reject anything that is not a token sequence."""
    tokens = [m.group(0) for m in SID_TOKEN.finditer(text)]
    if "".join(tokens) != text.strip() or not tokens:
        raise ValueError(f"not a SID token sequence: {text!r}")
    return tokens


def format_sid(tokens: list[str]) -> str:
    return "".join(tokens)


def read_index(path: str | Path, n_items: int | None = None) -> dict[int, list[str]]:
    """Read an index and check it: integer item keys, well-formed tokens with letters a, b, c... by level,
    no SID a prefix of another (lengths may differ: MiniOneRec's extra token on colliding items only), and
    (when `n_items` is given) exactly the items 0..n_items-1."""
    raw = read_json(path)
    if not isinstance(raw, dict) or not raw:
        raise GenrecError("a SID index must be a non-empty JSON object item_id -> list of tokens", path=path)
    index: dict[int, list[str]] = {}
    lengths: dict[int, str] = {}
    for key, tokens in raw.items():
        if not str(key).isdigit():
            raise GenrecError(f"item key {key!r} is not an integer id", path=path, key=str(key))
        if not isinstance(tokens, list) or not tokens:
            raise GenrecError("expected a non-empty list of SID tokens", path=path, key=str(key))
        for level, token in enumerate(tokens):
            match = SID_TOKEN.fullmatch(str(token))
            if not match or match.group(1) != chr(ord("a") + level):
                raise GenrecError(f"token {token!r} at level {level} should look like <{chr(ord('a') + level)}_N>",
                                  path=path, key=str(key))
        index[int(key)] = list(tokens)
        lengths.setdefault(len(tokens), str(key))
    if len(lengths) > 1:
        sids = {tuple(sid) for sid in index.values()}
        prefix = next(((item, sid) for item, sid in index.items()
                       if any(tuple(sid[:n]) in sids for n in lengths if n < len(sid))), None)
        if prefix is not None:
            item, sid = prefix
            raise GenrecError(f"item {item}'s SID {format_sid(sid)} starts with another item's whole SID: a decoder "
                              "could not tell where that one ends", path=path, key=str(item),
                              fix="give every member of a collision group the extra token (collision: extra_token)")
    if n_items is not None:
        missing = sorted(set(range(n_items)) - set(index))
        extra = sorted(set(index) - set(range(n_items)))
        if missing or extra:
            raise GenrecError(f"the index does not match the {n_items} items: "
                              f"{len(missing)} missing (first {missing[:5]}), {len(extra)} unknown (first {extra[:5]})",
                              path=path, fix="build the index from this dataset's items")
    return index


def index_json(index: dict[int, list[str]]) -> str:
    """The index file's text (what `read_index` reads back)."""
    return json.dumps({str(item): sid for item, sid in index.items()})


def level_letter(level: int) -> str:
    if not 0 <= level < 26:
        raise GenrecError(f"SID level {level} has no letter (at most 26 levels)")
    return chr(ord("a") + level)


def codebook_tokens(codebook_sizes: list[int]) -> list[str]:
    """Every token of every level's codebook, used by an item or not (level by level, code by code)."""
    return [f"<{level_letter(level)}_{code}>" for level, size in enumerate(codebook_sizes) for code in range(size)]


def codes_to_index(codes) -> dict[int, list[str]]:
    """Integer codes (items x levels, row i = item i; -1 = no token at that level) -> MiniOneRec's token lists."""
    letters = [level_letter(level) for level in range(codes.shape[1])]
    return {item: [f"<{letters[level]}_{int(code)}>" for level, code in enumerate(row) if code >= 0]
            for item, row in enumerate(codes.tolist())}


def index_to_codes(index: dict[int, list[str]]):
    """Token lists -> integer codes (items x longest SID, -1 after a shorter one), rows in item-id order."""
    import numpy as np

    items = sorted(index)
    depth = max(len(sid) for sid in index.values())
    return np.array([[int(SID_TOKEN.fullmatch(t).group(2)) for t in index[i]] + [-1] * (depth - len(index[i]))
                     for i in items], dtype=np.int64)
