"""OpenOneRec's two pre-training stages on its segments (pretrain/examples/pretrain_stg1.sh, pretrain_stg2.sh).

- Stage 1, itemic-text alignment: the vocabulary gains every itemic token and the chat markers, the LLM is frozen
  and only the new embedding rows train (`freeze_llm`, exact under weight decay as OpenOneRec's row restore).
- Stage 2, co-pre-training: every parameter trains (on the segments, mixed with general text: next step).

A segment is an example with no prompt: the loss covers every token and the EOS after it (qwen3_dataset.py
`_process_completion` appends the pad token, `<|endoftext|>`, and masks only the first position, which no token
predicts). Work in progress (issue 23): no rule drives these yet.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from genrec.models.checkpoint import save_final_model
from genrec.models.sid_vocab import add_sid_tokens, freeze_llm
from genrec.openonerec.chat import with_chat_template
from genrec.openonerec.itemic import itemic_text, itemic_vocabulary
from genrec.sft.dataset import SFTDataset
from genrec.sft.example import Example
from genrec.sft.settings import SFTSettings
from genrec.sft.train import fit

ALIGN, COPRETRAIN = "openonerec-align", "openonerec-copretrain"


def segment_examples(segments: pd.DataFrame) -> list[Example]:
    """Each segment's text (its parts joined, as qwen3_dataset.py does) as a response with no prompt."""
    return [Example(task=source, prompt="", response="".join(part["text"] for part in json.loads(parts)))
            for source, parts in zip(segments["source"], segments["segments"])]


def split_segments(split: pd.DataFrame, index: dict[int, list[str]], max_history: int) -> list[Example]:
    """A split's rows written as pre-training segments (the history's latest items, then the target): the valid
    loss of the pre-training stages."""
    return [Example(task="valid", prompt="", response="".join(itemic_text(index[int(i)])
                                                             for i in [*list(history)[-max_history:], target]))
            for history, target in zip(split["history"], split["target"])]


def expand_vocabulary(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, levels: int,
                      codebook_size: int) -> int:
    """OpenOneRec's vocabulary expansion (expand_qwen3_vocab.py): every itemic token and the two markers, then the
    chat template's turn markers where the backbone lacks them; returns the vocabulary size before."""
    n_old = add_sid_tokens(model, tokenizer, itemic_vocabulary(levels, codebook_size))
    with_chat_template(model, tokenizer)
    return n_old


def pretrain(stage: str, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, settings: SFTSettings,
             train: list[Example], valid: list[Example], out_dir: str | Path, work_dir: str | Path,
             n_old: int | None = None) -> dict:
    """Train a pre-training stage and save it: stage 1 (`ALIGN`) with the rows before `n_old` frozen, stage 2
    (`COPRETRAIN`) with every parameter."""
    started = time.monotonic()
    frozen = [freeze_llm(model, n_old)] if stage == ALIGN else []
    train_set = SFTDataset(train, tokenizer, settings.max_length)
    valid_set = SFTDataset(valid, tokenizer, settings.max_length)
    trainer, result, run = fit(model, tokenizer, train_set, valid_set, settings, work_dir, frozen)
    info = {"stage": stage, "sft": json.loads(settings.to_json()), "examples": len(train_set),
            "train_tokens": train_set.tokens(), "frozen_rows": n_old if frozen else 0,
            "steps": trainer.state.global_step, "best_eval_loss": trainer.state.best_metric,
            "train_loss": result.training_loss, "resumed_from": run["resumed_from"],
            "epoch_seconds": run["clock"].seconds, "seconds": round(time.monotonic() - started, 1),
            "log_history": trainer.state.log_history}
    save_final_model(trainer, tokenizer, out_dir, info, work_dir)
    return info
