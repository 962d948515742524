"""Item text cleaning and the title filter, exactly as MiniOneRec's `amazon18_data_process.py`.

The title rule decides which items exist at all, so it is reproduced rule for rule:
a title is dropped when it is missing, contains `<span id`, or, after unescaping `&quot;`/`&amp;` and
stripping spaces then double quotes, has at most one character or more than 20 space-separated words.
"""

from __future__ import annotations

import ast
import html
import re
from typing import Any

MAX_TITLE_WORDS = 20
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def clean_title(raw: Any) -> str | None:
    """Return the cleaned title, or None when MiniOneRec would drop the item."""
    if not isinstance(raw, str) or "<span id" in raw:
        return None
    # The original strips spaces, then quotes, exactly once each, and splits on " " (not on whitespace).
    title = raw.replace("&quot;", '"').replace("&amp;", "&").strip(" ").strip('"')
    if len(title) > 1 and len(title.split(" ")) <= MAX_TITLE_WORDS:
        return title
    return None


def clean_text(raw: Any) -> str:
    """Free text (descriptions, features): lists joined, HTML tags removed, entities decoded, spaces collapsed."""
    if raw is None:
        return ""
    if isinstance(raw, (list, tuple)):
        raw = " ".join(str(part) for part in raw if part)
    text = _TAG.sub("", str(raw))
    text = html.unescape(text).replace("&quot;", '"').replace("&amp;", "&")
    return _SPACE.sub(" ", text).strip()


def clean_brand(raw: Any) -> str:
    return str(raw or "").replace("by\n", "").strip()


def clean_categories(raw: Any) -> list[str]:
    """Flatten category paths (2014 nests lists) and drop HTML fragments, as the original does."""
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [part for part in raw.split(",")] if raw else []
    flat: list[str] = []
    for entry in raw:
        flat.extend(entry if isinstance(entry, (list, tuple)) else [entry])
    return [str(c).strip() for c in flat if "</span>" not in str(c) and str(c).strip()]


def unwrap_list_literal(text: str) -> str:
    """MiniOneRec's release stores some descriptions as the repr of a Python list: recover the text."""
    stripped = text.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        try:
            value = ast.literal_eval(stripped)
        except (ValueError, SyntaxError):
            return text
        if isinstance(value, list):
            return clean_text(value)
    return text
