"""The final model of a training stage: `save_pretrained` layout + tokenizer + `training.json`, all or nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from transformers import PreTrainedTokenizerBase, Trainer

from genrec.io import atomic_outputs


def save_final_model(trainer: Trainer, tokenizer: PreTrainedTokenizerBase, out_dir: str | Path, info: dict,
                     work_dir: str | Path, extra_files: dict[str, Path] | None = None) -> None:
    """Move the trained model into `out_dir` atomically (a finished artifact is replaced only by a complete one),
    with `extra_files` (name -> path) copied beside it; then drop the work directory of resumable checkpoints."""
    if not trainer.is_world_process_zero():
        return
    with atomic_outputs(out_dir) as (tmp,):
        tmp.unlink()
        trainer.save_model(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / "training.json").write_text(json.dumps(info, indent=2) + "\n")
        for name, path in (extra_files or {}).items():
            shutil.copyfile(path, tmp / name)
    shutil.rmtree(work_dir, ignore_errors=True)
