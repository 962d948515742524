"""OpenOneRec's pre-training on segments (pretrain/examples/pretrain_stg1.sh, pretrain_stg2.sh), and the general
pre-training a tiny backbone needs first.

- Base: a tiny backbone has no language to keep, so it is built (a BPE tokenizer on the general and item text) and
  pre-trained on the general segments alone; an `hf` backbone (Qwen3) is saved as it is.
- Stage 1, itemic-text alignment: the vocabulary gains every itemic token and the chat markers, the LLM is frozen
  and only the new rows train (`freeze_llm`, exact under weight decay as OpenOneRec's row restore).
- Stage 2, co-pre-training: every parameter trains.

Both stages read the same mixture, as OpenOneRec's scripts do (both pass `dataset_config/pretrain.json`): the
recommendation segments and the general ones, concatenated (`general_share` None) or with the general segments
drawn to a share of the mix. A segment is trained as OpenOneRec's `_process_completion` does: its text then
`<|endoftext|>`, every token a target but the first, which nothing predicts.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from transformers import PreTrainedModel, PreTrainedTokenizerBase, set_seed

from genrec.models.backbone import EOS as ENDOFTEXT
from genrec.models.backbone import build_tiny_backbone, load_backbone
from genrec.models.checkpoint import save_final_model, write_model_dir
from genrec.models.sid_vocab import add_sid_tokens, freeze_llm, index_tokens
from genrec.openonerec.chat import with_chat_template
from genrec.openonerec.itemic import itemic_text, itemic_vocabulary
from genrec.openonerec.settings import ALIGN, BASE, OpenOneRecJob
from genrec.sft.dataset import IGNORE, SFTDataset
from genrec.sft.train import fit

log = logging.getLogger(__name__)


def segment_texts(segments: pd.DataFrame, split: str | None = None) -> list[str]:
    """Each segment's text, its parts joined as qwen3_dataset.py joins them; only `split`'s rows where given."""
    if split is not None:
        segments = segments[segments["split"] == split]
    return ["".join(part["text"] for part in json.loads(parts)) for parts in segments["segments"]]


def split_segments(split: pd.DataFrame, index: dict[int, list[str]], max_history: int) -> list[str]:
    """A split's rows written as recommendation segments (the history's latest items, then the target): the
    stages' validation text on the recommendation side."""
    return ["".join(itemic_text(index[int(i)]) for i in [*list(history)[-max_history:], target])
            for history, target in zip(split["history"], split["target"])]


def end_of_text(tokenizer: PreTrainedTokenizerBase) -> int:
    """The token after a segment: `<|endoftext|>` where the vocabulary has it (qwen3_dataset.py appends the pad token,
    `<|endoftext|>`, not a Qwen3 chat model's EOS `<|im_end|>`), else EOS."""
    return tokenizer.get_vocab().get(ENDOFTEXT, tokenizer.eos_token_id)


class SegmentWindows(SFTDataset):
    """Segments as OpenOneRec trains on them: each text then `<|endoftext|>`, every token a target but the first. A
    text longer than `max_length` tokens is cut into windows that overlap by one token, so that every token but the
    text's first is a target exactly once (OpenOneRec packs samples into 32k-token sequences with attention kept
    inside each sample; windows keep every token without a packed batch's mask)."""

    def __init__(self, texts: list[str], tokenizer: PreTrainedTokenizerBase, max_length: int):
        self.items = []
        end = end_of_text(tokenizer)
        for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]:
            ids = [*ids, end]
            for start in range(0, len(ids) - 1, max_length - 1):
                window = ids[start:start + max_length]
                self.items.append((window, [IGNORE, *window[1:]]))   # its first token: context, a target before


def mixture(rec: list, general: list, general_share: float | None, seed: int) -> list:
    """The stages' training samples: every recommendation sample, and the general ones whole (`general_share` None,
    OpenOneRec's concatenation) or drawn to that share of the samples (repeated whole where the corpus is short). A
    share of samples, as OpenOneRec's natural ratio counts samples: a long general text is several windows."""
    if general_share is None:
        return [*rec, *general]
    wanted = round(general_share / (1 - general_share) * len(rec))
    rng = np.random.default_rng(seed)
    repeats, rest = divmod(wanted, len(general))
    drawn = [*range(len(general))] * repeats + sorted(rng.choice(len(general), size=rest, replace=False).tolist())
    return [*rec, *(general[i] for i in drawn)]


def expand_vocabulary(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, levels: int,
                      codebook_size: int, index: dict[int, list[str]] | None = None) -> int:
    """OpenOneRec's vocabulary expansion (expand_qwen3_vocab.py): every itemic token and the two markers (and any
    other token of `index`: a collision level some tokenizers add), then the chat template's turn markers where the
    backbone lacks them; returns the vocabulary size before."""
    extra = [t for t in index_tokens(index) if t not in set(itemic_vocabulary(levels, codebook_size))] if index else []
    n_old = add_sid_tokens(model, tokenizer, [*itemic_vocabulary(levels, codebook_size)[:-2], *extra,
                                              *itemic_vocabulary(levels, codebook_size)[-2:]])
    with_chat_template(model, tokenizer)
    return n_old


def train_stage(stage: str, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, job: OpenOneRecJob,
                train: list[str], valid: list[str], out_dir: str | Path, work_dir: str | Path,
                n_old: int | None = None, extra: dict | None = None) -> dict:
    """Train one pre-training stage on segment texts and save it: stage 1 (`ALIGN`) with the rows before `n_old`
    frozen, the others with every parameter."""
    started = time.monotonic()
    frozen = [freeze_llm(model, n_old)] if stage == ALIGN else []
    train_set = SegmentWindows(train, tokenizer, job.sft.max_length)
    valid_set = SegmentWindows(valid, tokenizer, job.sft.max_length)
    log.info("%s: %d texts as %d windows (%d tokens), valid %d windows", stage, len(train), len(train_set),
             train_set.tokens(), len(valid_set))
    trainer, result, run = fit(model, tokenizer, train_set, valid_set, job.sft, work_dir, frozen)
    info = {"stage": stage, "job": json.loads(job.to_json()), "texts": len(train), "windows": len(train_set),
            "train_tokens": train_set.tokens(), "valid_windows": len(valid_set), "frozen_rows": n_old if frozen else 0,
            "parameters": model.num_parameters(), "vocab_size": len(tokenizer), "steps": trainer.state.global_step,
            "epochs_run": trainer.state.epoch, "best_eval_loss": trainer.state.best_metric,
            "train_loss": result.training_loss, "resumed_from": run["resumed_from"],
            "epoch_seconds": run["clock"].seconds, "seconds": round(time.monotonic() - started, 1),
            **(extra or {}), "log_history": trainer.state.log_history}
    save_final_model(trainer, tokenizer, out_dir, info, work_dir)
    return info


def save_untrained(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, out_dir: str | Path,
                   info: dict) -> None:
    """An `hf` backbone as the base stage's output, unchanged: the later stages read one layout (written once, by
    the first process of a multi-GPU launch)."""
    if int(os.environ.get("RANK", "0")) != 0:
        return
    write_model_dir(model.save_pretrained, tokenizer, out_dir, info)


def run_base(job: OpenOneRecJob, general: pd.DataFrame, item_text: list[str], out_dir: str | Path,
             work_dir: str | Path) -> dict:
    """The model before stage 1 (distillation's teacher): a tiny backbone built and pre-trained on the general
    segments, its BPE trained on the general and item text; an `hf` backbone as loaded."""
    set_seed(job.sft.seed)
    if job.backbone.kind != "tiny":
        model, tokenizer = load_backbone(job.backbone.path, job.backbone.dtype, job.backbone.revision)
        info = {"stage": BASE, "job": json.loads(job.to_json()), "trained": False}
        save_untrained(model, tokenizer, out_dir, info)
        return info
    train = segment_texts(general, "train")
    model, tokenizer = build_tiny_backbone(job.backbone, [*train, *item_text], job.sft.seed)
    return train_stage(BASE, model, tokenizer, job, train, segment_texts(general, "valid"), out_dir, work_dir,
                       extra={"trained": True})


def run_pretrain(stage: str, job: OpenOneRecJob, model_dir: str | Path, rec: pd.DataFrame,
                 general: pd.DataFrame, valid_split: pd.DataFrame, index: dict[int, list[str]], out_dir: str | Path,
                 work_dir: str | Path) -> dict:
    """Stage 1 (`ALIGN`: from the base model, its vocabulary expanded first) or stage 2 (`COPRETRAIN`: from stage
    1's model) on the recommendation segments mixed with the general ones; validation on the valid split's
    sequences and the general valid share."""
    set_seed(job.sft.seed)
    model, tokenizer = load_backbone(model_dir, job.backbone.dtype)
    n_old = expand_vocabulary(model, tokenizer, job.levels, job.codebook_size, index) if stage == ALIGN else None
    train = mixture(segment_texts(rec, "train"), segment_texts(general, "train"), job.general_share, job.sft.seed)
    if job.valid_rows is not None and len(valid_split) > job.valid_rows:
        valid_split = valid_split.sample(job.valid_rows, random_state=job.sft.seed)
    valid = [*split_segments(valid_split, index, job.max_history), *segment_texts(general, "valid")]
    return train_stage(stage, model, tokenizer, job, train, valid, out_dir, work_dir, n_old,
                       extra={"recommendation_texts": int((rec["split"] == "train").sum()),
                              "general_texts": len(train) - int((rec["split"] == "train").sum())})
