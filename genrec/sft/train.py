"""SFT entry point: backbone + SID vocabulary + mixed tasks, trained with the HF `Trainer`.

`batch_size` is global (examples per optimizer step, the paper's 1024) whatever the number of devices;
gradient accumulation is derived from devices x `micro_batch_size`. Intermediate checkpoints go to a
work directory outside the final output, so an interrupted job resumes from its last checkpoint; the
final model (best validation loss) is written with `save_pretrained` and moved into place atomically.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import torch
from transformers import DataCollatorForSeq2Seq, EarlyStoppingCallback, Trainer, TrainerCallback, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from genrec.data.prepared import prompt_category
from genrec.embed.encode import item_texts
from genrec.errors import GenrecError
from genrec.io import read_table
from genrec.models.backbone import BackboneSpec, create_backbone
from genrec.models.checkpoint import SID_INDEX, TrainedWith, save_final_model
from genrec.models.sid_vocab import add_sid_tokens, freeze_llm, index_tokens
from genrec.precision import use_bf16
from genrec.prompts import RECOMMENDATION_TASK, ItemText, stage_templates
from genrec.sft.dataset import FixedShapeSeq2SeqCollator, LeftPadCollator, Seq2SeqDataset, SFTDataset, response_loss
from genrec.sft.settings import TITLE_TASKS, SFTSettings
from genrec.sft.tasks import TASKS, build_examples, check_templates, task_weight
from genrec.tokenize.index import index_json, read_index
from genrec.training import EpochClock, TimeLimit, gradient_accumulation, rsqrt_decay, world_size

log = logging.getLogger(__name__)


class ScheduledTrainer(Trainer):
    """HF's `Trainer` with one more schedule, `rsqrt` (TIGER's, `genrec.training.rsqrt_decay`): constant for
    the warm-up steps, then inverse square root."""

    def __init__(self, *args, rsqrt_constant_steps: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.rsqrt_constant_steps = rsqrt_constant_steps

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.rsqrt_constant_steps is None:
            return super().create_scheduler(num_training_steps, optimizer)
        if self.lr_scheduler is None:
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer or self.optimizer,
                                                                  rsqrt_decay(self.rsqrt_constant_steps))
        return self.lr_scheduler


def seq2seq_collator(model, tokenizer, static_shapes: bool, *datasets: Seq2SeqDataset):
    """Batches padded to their own longest example, or (static_shapes) all to the data's longest prompt and
    response, a multiple of 8."""
    if not static_shapes:
        return DataCollatorForSeq2Seq(tokenizer, model)
    examples = [d[i] for d in datasets for i in range(len(d))]
    round8 = lambda n: -(-n // 8) * 8   # noqa: E731
    return FixedShapeSeq2SeqCollator(model, tokenizer.pad_token_id,
                                     round8(max(len(e["input_ids"]) for e in examples)),
                                     round8(max(len(e["labels"]) for e in examples)))


def schedule_steps(settings: SFTSettings, examples: int) -> tuple[int, int, int]:
    """Optimizer steps an epoch of `examples`, between checkpoints (`save_every_epochs`), and of warm-up (fixed,
    or `warmup_ratio` of the run): the schedule every Trainer-driven stage derives from its settings."""
    steps_per_epoch = max(1, examples // settings.batch_size)
    warmup_steps = settings.warmup_steps if settings.warmup_steps is not None else \
        round(settings.warmup_ratio * steps_per_epoch * settings.epochs)
    return steps_per_epoch, max(1, round(settings.save_every_epochs * steps_per_epoch)), warmup_steps


def fit(model, tokenizer, train_set: torch.utils.data.Dataset, valid_set: torch.utils.data.Dataset,
        settings: SFTSettings, work_dir: str | Path, callbacks: list[TrainerCallback] | None = None,
        seq2seq: bool = False) -> tuple[Trainer, object, dict]:
    """Train on tokenised examples with HF's `Trainer` under `settings` (global batch, schedule, valid loss and a
    checkpoint every `save_every_epochs`, the best kept, resume from `work_dir`): what every SFT-like stage shares.
    Returns the trainer, its result, and the run's facts (accumulation, warm-up, per-epoch clock, resumed-from)."""
    ga = gradient_accumulation(settings.batch_size, settings.micro_batch_size, world_size())
    steps_per_epoch, save_steps, warmup_steps = schedule_steps(settings, len(train_set))
    rsqrt = settings.lr_scheduler == "rsqrt"
    args = TrainingArguments(
        output_dir=str(work_dir), per_device_train_batch_size=settings.micro_batch_size,
        per_device_eval_batch_size=settings.micro_batch_size, gradient_accumulation_steps=ga,
        learning_rate=settings.learning_rate, num_train_epochs=settings.epochs,
        lr_scheduler_type="constant" if rsqrt else settings.lr_scheduler, warmup_steps=0 if rsqrt else warmup_steps,
        lr_scheduler_kwargs={"min_lr_rate": settings.min_lr_rate} if settings.min_lr_rate is not None else {},
        adam_beta2=settings.adam_beta2,
        weight_decay=settings.weight_decay, optim=settings.optimizer, max_grad_norm=settings.max_grad_norm, bf16=use_bf16(settings.precision),
        eval_strategy="steps", eval_steps=save_steps, save_strategy="steps", save_steps=save_steps,
        save_total_limit=2, load_best_model_at_end=True, metric_for_best_model="eval_loss",
        logging_steps=max(1, steps_per_epoch // 10), seed=settings.seed, data_seed=settings.seed,
        report_to=[], remove_unused_columns=False, dataloader_num_workers=settings.dataloader_workers,
        torch_compile=settings.torch_compile,
        dataloader_drop_last=settings.static_shapes,   # a short last batch would be a new shape: a recompile, then slower steps
        disable_tqdm=False,
        use_cpu=not torch.cuda.is_available(),
        train_sampling_strategy="group_by_length" if settings.group_by_length else "random",
    )
    clock = EpochClock()
    callbacks = list(callbacks or []) + [clock]
    callbacks += [TimeLimit(settings.max_seconds)] if settings.max_seconds else []
    if settings.early_stopping_patience is not None:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=settings.early_stopping_patience))
    collator = seq2seq_collator(model, tokenizer, settings.static_shapes, train_set, valid_set) if seq2seq else \
        LeftPadCollator(tokenizer.pad_token_id)
    trainer = ScheduledTrainer(model=model, args=args, train_dataset=train_set, eval_dataset=valid_set,
                               data_collator=collator, compute_loss_func=None if seq2seq else response_loss,
                               callbacks=callbacks, rsqrt_constant_steps=warmup_steps if rsqrt else None)
    last = get_last_checkpoint(str(work_dir)) if Path(work_dir).is_dir() else None
    if last:
        log.info("resuming from %s", last)
    result = trainer.train(resume_from_checkpoint=last)

    return trainer, result, {"gradient_accumulation": ga, "warmup_steps": warmup_steps, "clock": clock,
                             "resumed_from": last}


def run_sft(backbone: BackboneSpec, settings: SFTSettings, templates: dict, data_dir: str | Path,
            index_path: str | Path, out_dir: str | Path, work_dir: str | Path, threads: int | None = None,
            callbacks: list[TrainerCallback] | None = None) -> dict:
    """Fine-tune `backbone` on the dataset's training split with the SID index; write the model to `out_dir`.
    Without an index (`index_path` None) the model names items by title: a title method's SFT (BIGRec, D3),
    whose tasks must show and name items by title only."""
    started = time.monotonic()
    set_seed(settings.seed)
    if threads:
        torch.set_num_threads(threads)
    tasks = [t for t, w in settings.tasks.items() if task_weight(w) > 0]
    if set(settings.tasks) - set(TASKS):
        raise GenrecError(f"unknown SFT task(s) {sorted(set(settings.tasks) - set(TASKS))}", key="sft.tasks",
                          fix=f"use {list(TASKS)}")
    naming = "sid" if index_path is not None else "title"
    recommendation = RECOMMENDATION_TASK[naming]         # the task valid loss is computed on, and decoded from
    sft_templates = stage_templates(templates, "sft", f"prompts.{backbone.prompts}")
    check_templates(sft_templates, sorted(set(tasks) | {recommendation}), f"prompts.{backbone.prompts}.sft")
    if naming == "title" and (set(tasks) - set(TITLE_TASKS) or settings.seq_rec_mode != "row"):
        raise GenrecError(f"a model trained without a SID index names items by title: it trains {list(TITLE_TASKS)} "
                          f"one example per row, not {sorted(set(tasks) - set(TITLE_TASKS))}", key="sft.tasks",
                          fix="give the stage a SID index, or train title tasks only (seq_rec_mode: row)")
    data_dir = Path(data_dir)
    items = read_table(data_dir / "items.parquet")
    train, valid = read_table(data_dir / "train.parquet"), read_table(data_dir / "valid.parquet")
    index = read_index(index_path, n_items=len(items)) if index_path is not None else None
    sid_tokens = index_tokens(index) if index is not None else []
    ga = gradient_accumulation(settings.batch_size, settings.micro_batch_size, world_size())   # fails before loading

    model, tokenizer = create_backbone(backbone, item_texts(items), sid_tokens, settings.seed)
    n_old = add_sid_tokens(model, tokenizer, sid_tokens, settings.sid_init) if sid_tokens else len(tokenizer)
    frozen = [freeze_llm(model, n_old)] if settings.freeze_llm else []
    text = ItemText.build(items, index, prompt_category(data_dir))
    examples = build_examples(settings.tasks, sft_templates, text, train, settings.prompt_history, settings.seed,
                              settings.seq_rec_mode)
    valid_examples = build_examples({recommendation: 1.0}, sft_templates, text, valid, settings.prompt_history,
                                    settings.seed)
    if settings.seq_rec_mode == "sequence":
        # scored as sequence mode trains: the SID's tokens, no EOS (which that mode never learns)
        valid_examples = [dataclasses.replace(e, targets=(e.target,)) for e in valid_examples]
    valid_examples.sort(key=lambda e: len(e.prompt))   # evaluation batches of similar length pad little
    seq2seq = model.config.is_encoder_decoder           # TIGER: the history is encoded, the SID decoded
    if seq2seq and settings.seq_rec_mode != "row":
        raise GenrecError("an encoder-decoder (TIGER) trains one example per row", key="sft.seq_rec_mode",
                          fix="use row")
    if settings.static_shapes and not seq2seq:
        raise GenrecError("static_shapes pads an encoder-decoder's batches (TIGER); a decoder-only backbone's "
                          "batches are left-padded to their own width", key="sft.static_shapes", fix="leave it out")
    if seq2seq:
        train_set = Seq2SeqDataset(examples, tokenizer, settings.max_length)
        valid_set = Seq2SeqDataset(valid_examples, tokenizer, settings.max_length)
    else:
        sid_ids = set(tokenizer.convert_tokens_to_ids(sid_tokens))
        train_set = SFTDataset(examples, tokenizer, settings.max_length, sid_ids)
        valid_set = SFTDataset(valid_examples, tokenizer, settings.max_length, sid_ids)
    counts = {t: sum(e.task == t for e in examples) for t in tasks}
    if settings.seq_rec_mode == "sequence":
        counts["seq_rec_targets"] = sum(len(e.targets) for e in examples)
    log.info("SFT examples per epoch: %s (valid seq_rec: %d); %d new SID tokens", counts, len(valid_set),
             len(tokenizer) - n_old)

    trainer, result, run = fit(model, tokenizer, train_set, valid_set, settings, work_dir, [*(callbacks or []), *frozen],
                               seq2seq=seq2seq)
    warmup_steps, clock, last = run["warmup_steps"], run["clock"], run["resumed_from"]

    info = {
        "backbone": dataclasses.asdict(backbone), "sft": dataclasses.asdict(settings), "examples": counts,
        "parameters": model.num_parameters(), "vocab_size": len(tokenizer), "new_tokens": len(tokenizer) - n_old,
        "global_batch": settings.batch_size, "gradient_accumulation": ga, "devices": world_size(),
        "steps": trainer.state.global_step, "warmup_steps": warmup_steps, "epochs_run": trainer.state.epoch,
        "best_checkpoint": trainer.state.best_model_checkpoint, "best_eval_loss": trainer.state.best_metric,
        "train_loss": result.training_loss, "resumed_from": last,
        # per epoch run by this process (not those before a resume), evaluation excluded; tokens: real, unpadded
        "epoch_seconds": clock.seconds, "train_tokens": train_set.tokens(),
        "seconds": round(time.monotonic() - started, 1), "log_history": trainer.state.log_history,
        **TrainedWith(backbone.prompts, templates, settings.prompt_history, naming).record(),
    }
    save_final_model(trainer, tokenizer, out_dir, info, work_dir,
                     extra_texts={SID_INDEX: index_json(index)} if index is not None else {})
    return info
