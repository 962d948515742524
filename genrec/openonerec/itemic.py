"""OpenOneRec's itemic tokens: an item is its residual k-means codes wrapped in two markers,
`<|sid_begin|><s_a_i><s_b_j><s_c_k><|sid_end|>` (data/onerec_data/sft/video_rec.py `SID_FORMAT`).

Code tokens keep genrec's index spelling (`<a_i><b_j><c_k>`, genrec.tokenize.index): they are added tokens, one id
each, so the spelling does not change the model, and every SID tool (trie, parser, metrics) reads them as is.
"""

from __future__ import annotations

from genrec.tokenize.index import codebook_tokens, format_sid

SID_BEGIN, SID_END = "<|sid_begin|>", "<|sid_end|>"


def itemic_text(sid: list[str]) -> str:
    """An item as OpenOneRec writes it in text: its SID between the two markers."""
    return f"{SID_BEGIN}{format_sid(sid)}{SID_END}"


def itemic_vocabulary(levels: int, codebook_size: int) -> list[str]:
    """The tokens OpenOneRec's vocabulary expansion adds (pretrain/tools/model_converter/expand_qwen3_vocab.py): every
    code of every level, used by an item or not, then the two markers."""
    return [*codebook_tokens([codebook_size] * levels), SID_BEGIN, SID_END]
