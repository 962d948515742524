"""The final model of a training stage: `save_pretrained` layout + tokenizer + `training.json`, all or nothing.

A generative checkpoint also records what it was trained with and what decoding from it must use (the prompt
set, the prompts' history cap, and a copy of its SID index): prediction and RL read them from here, so a config
edited after training cannot make them decode from a prompt or an index the model never saw.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from transformers import PreTrainedTokenizerBase, Trainer

from genrec.errors import GenrecError
from genrec.io import atomic_outputs, read_json

SID_INDEX = "sid_index.json"


@dataclass(frozen=True)
class TrainedWith:
    """What a generative checkpoint was trained with, which decoding from it must use."""

    prompts: str             # the prompt set's name (config `prompts.<name>`)
    templates: dict          # that set's templates, as trained
    prompt_history: int      # the latest history items a prompt shows
    naming: str = "sid"      # how it names items: by SID, or by title (a title method: no SID index)

    def record(self) -> dict:
        return {"trained_with": asdict(self)}


def trained_with(model_dir: str | Path) -> tuple[TrainedWith, Path | None]:
    """The prompts a checkpoint was trained with and the path of its SID index (None: it names items by title)."""
    model_dir = Path(model_dir)
    info_path = model_dir / "training.json"
    if not info_path.exists():
        raise GenrecError("not a trained checkpoint: it has no training.json", path=model_dir,
                          fix="point at the output of an sft / tiger / rl rule")
    info = read_json(info_path)
    trained = TrainedWith(**info["trained_with"]) if "trained_with" in info else None
    if trained is None or (trained.naming == "sid" and not (model_dir / SID_INDEX).exists()):
        raise GenrecError("this checkpoint does not record its prompts and SID index (it predates genrec "
                          "recording them)", path=info_path, fix="re-run its training rule")
    return trained, (model_dir / SID_INDEX if trained.naming == "sid" else None)


def save_final_model(trainer: Trainer, tokenizer: PreTrainedTokenizerBase, out_dir: str | Path, info: dict,
                     work_dir: str | Path, extra_files: dict[str, Path] | None = None,
                     extra_texts: dict[str, str] | None = None) -> None:
    """Move the trained model into `out_dir` atomically (a finished artifact is replaced only by a complete one),
    with `extra_files` (name -> path) copied and `extra_texts` (name -> text) written beside it; then drop the work directory of resumable checkpoints."""
    if not trainer.is_world_process_zero():
        return
    write_model_dir(trainer.save_model, tokenizer, out_dir, info, extra_files, extra_texts)
    shutil.rmtree(work_dir, ignore_errors=True)


def write_model_dir(save_model: Callable[[str], None], tokenizer: PreTrainedTokenizerBase, out_dir: str | Path,
                    info: dict, extra_files: dict[str, Path] | None = None,
                    extra_texts: dict[str, str] | None = None) -> None:
    """Write a model directory all or nothing: the weights by `save_model(path)`, the tokenizer, `training.json`,
    and the extra files and texts beside them."""
    with atomic_outputs(out_dir) as (tmp,):
        tmp.unlink()
        save_model(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / "training.json").write_text(json.dumps(info, indent=2) + "\n")
        for name, path in (extra_files or {}).items():
            shutil.copyfile(path, tmp / name)
        for name, text in (extra_texts or {}).items():
            (tmp / name).write_text(text)
