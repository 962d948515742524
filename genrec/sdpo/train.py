"""S-DPO training (chenyuxin1999/S-DPO @ 07befa4, softmax_dpo.py and trainer/softmax_dpo_trainer.py): from a title
SFT model, each training row's prompt prefers the target's title to `negatives` sampled items' titles, under the
softmax-DPO loss against the frozen SFT model as reference.

Sequences are batched as [chosen rows; first negatives; second negatives; ...], left-padded like SFT's so the model
computes logits for the responses' positions only; a response's log-probability is summed over its tokens and EOS.
The HF `Trainer` runs it (schedule, accumulation, evaluation, best checkpoint, resume); TRL supplies the per-token
log-probabilities (`selective_log_softmax`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import Trainer, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from genrec.data.prepared import prompt_category
from genrec.errors import GenrecError
from genrec.io import read_json, read_table
from genrec.models.backbone import load_backbone
from genrec.models.checkpoint import save_final_model, trained_with
from genrec.precision import use_bf16
from genrec.prompts import RECOMMENDATION_TASK, ItemText, Template, recommendation_prompt, stage_templates
from genrec.sdpo.loss import softmax_dpo_loss
from genrec.sdpo.settings import SDPOSettings
from genrec.sft.dataset import IGNORE, LeftPadCollator
from genrec.training import EpochClock, TimeLimit, gradient_accumulation, world_size

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preference:
    """One row's preference: its prompt prefers the `chosen` item's title to each `rejected` item's."""

    prompt: str
    chosen: int
    rejected: tuple[int, ...]


def sample_negatives(target: int, titles: list[str], negatives: int, rng: np.random.Generator) -> tuple[int, ...]:
    """`negatives` distinct items drawn uniformly whose titles differ from the target's (a negative sharing the
    target's title would be the same response, preferred to itself)."""
    chosen, found = titles[target], []
    while len(found) < negatives:
        for item in rng.integers(0, len(titles), size=2 * negatives).tolist():
            if titles[item] != chosen and item not in found and len(found) < negatives:
                found.append(item)
    return tuple(found)


def preferences(rows: pd.DataFrame, text: ItemText, templates: dict[str, Template], prompt_history: int,
                negatives: int, seed: int, max_samples: int | None = None) -> list[Preference]:
    """The preference of every row (or of `max_samples` rows drawn without replacement), negatives drawn once
    for the run as softmax_dpo.py draws them when it builds its dataset."""
    rng = np.random.default_rng(seed)
    if len(set(text.titles)) <= negatives:
        raise GenrecError(f"S-DPO samples {negatives} negatives with titles other than the target's, but the items "
                          f"have {len(set(text.titles))} distinct titles", key="sdpo.training.negatives")
    order = np.arange(len(rows)) if max_samples is None else \
        np.sort(rng.choice(len(rows), size=min(max_samples, len(rows)), replace=False))
    task = RECOMMENDATION_TASK["title"]
    out = []
    for row in order:
        history, target = list(rows["history"].iat[row])[-prompt_history:], int(rows["target"].iat[row])
        out.append(Preference(recommendation_prompt(templates, text, history, task=task), target,
                              sample_negatives(target, text.titles, negatives, rng)))
    return out


class PreferenceDataset(torch.utils.data.Dataset):
    """Tokenised preferences: the prompt's ids and each response's (the chosen first), each ending with EOS;
    a prompt too long for its longest response loses its oldest tokens, as SFT's do."""

    def __init__(self, prefs: list[Preference], text: ItemText, template: Template, tokenizer, max_length: int):
        prompts = tokenizer([p.prompt for p in prefs], add_special_tokens=False)["input_ids"]
        titles = sorted({i for p in prefs for i in (p.chosen, *p.rejected)})
        encoded = tokenizer([template.title_response(text.titles[i]) for i in titles],
                            add_special_tokens=False)["input_ids"]
        response = {item: ids[: max_length - 1] + [tokenizer.eos_token_id] for item, ids in zip(titles, encoded)}
        self.items = []
        for pref, prompt in zip(prefs, prompts):
            responses = [response[i] for i in (pref.chosen, *pref.rejected)]
            keep = max(0, len(prompt) + max(len(r) for r in responses) - max_length)
            self.items.append((prompt[keep:], responses))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        prompt, responses = self.items[i]
        return {"prompt_ids": prompt, "response_ids": responses}


class PreferenceCollator:
    """A batch of B preferences with N negatives -> (1 + N) x B left-padded sequences, the chosen responses first,
    then each negative's, labelled on the response (the SFT collator's layout)."""

    def __init__(self, pad_token_id: int):
        self.pad = LeftPadCollator(pad_token_id)

    def __call__(self, batch: list[dict]) -> dict:
        sequences = [{"input_ids": b["prompt_ids"] + b["response_ids"][j],
                      "labels": [IGNORE] * len(b["prompt_ids"]) + b["response_ids"][j]}
                     for j in range(len(batch[0]["response_ids"])) for b in batch]
        return self.pad(sequences)


def response_logps(model, inputs: dict) -> torch.Tensor:
    """Each sequence's summed log-probability of its labelled response tokens."""
    from trl.trainer.utils import selective_log_softmax

    outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                    position_ids=inputs["position_ids"], logits_to_keep=inputs["logits_to_keep"], use_cache=False)
    logits = outputs.logits[:, :-1].float()
    labels = inputs["labels"][:, -logits.shape[1]:].to(logits.device)
    mask = labels != IGNORE
    return (selective_log_softmax(logits, labels.clamp(min=0)) * mask).sum(dim=1)


class SoftmaxDPOTrainer(Trainer):
    """HF `Trainer` with S-DPO's loss against a frozen reference model; logs the mean chosen and rejected rewards
    (beta x log-ratio) and the share of rows whose chosen reward beats every negative's."""

    def __init__(self, *args, ref_model, beta: float, negatives: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.ref_model = ref_model.to(self.args.device).eval().requires_grad_(False)
        self.beta, self.negatives = beta, negatives
        self.loss_is_scaled_for_ga = False      # a mean per micro-batch: the Trainer divides by the accumulation
        self._metrics: dict[str, list[float]] = {}

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        logps = response_logps(model, inputs)
        with torch.no_grad():
            ref_logps = response_logps(self.ref_model, inputs)
        ratios = (logps - ref_logps).view(1 + self.negatives, -1)      # [chosen; negative 1; ...] x rows
        chosen, rejected = ratios[0], ratios[1:].T
        loss = softmax_dpo_loss(chosen, rejected, self.beta).mean()
        mode = "train" if model.training else "eval"
        for name, value in {"rewards/chosen": self.beta * chosen.mean(), "rewards/rejected": self.beta * rejected.mean(),
                            "rewards/accuracy": (chosen.unsqueeze(1) > rejected).all(dim=1).float().mean()}.items():
            self._metrics.setdefault(f"{mode}/{name}", []).append(float(value.detach()))
        return (loss, None) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad():
            loss = self.compute_loss(model, inputs)
        return loss.detach(), None, None

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        mode = "eval" if any(key.startswith("eval_") for key in logs) else "train"
        for key in [k for k in self._metrics if k.startswith(mode)]:
            values = self._metrics.pop(key)
            logs[("eval_" if mode == "eval" else "") + key.split("/", 1)[1]] = round(sum(values) / len(values), 4)
        super().log(logs, start_time)


def run_sdpo(sft_dir: str | Path, settings: SDPOSettings, data_dir: str | Path, out_dir: str | Path,
             work_dir: str | Path, threads: int | None = None) -> dict:
    """S-DPO from the title SFT model in `sft_dir`; writes the model to `out_dir` with the SFT model's prompts."""
    started = time.monotonic()
    set_seed(settings.seed)
    if threads:
        torch.set_num_threads(threads)
    trained, index_path = trained_with(sft_dir)
    if index_path is not None:
        raise GenrecError("S-DPO prefers one title to others, but this checkpoint names items by SID", path=sft_dir,
                          fix="start from a title SFT model (the d3 stage's)")
    templates = stage_templates(trained.templates, "sft", f"prompts.{trained.prompts}")
    template = templates[RECOMMENDATION_TASK["title"]]
    data_dir = Path(data_dir)
    items = read_table(data_dir / "items.parquet")
    text = ItemText.build(items, None, prompt_category(data_dir))
    train = preferences(read_table(data_dir / "train.parquet"), text, templates, trained.prompt_history,
                        settings.negatives, settings.seed, settings.max_samples)
    valid = preferences(read_table(data_dir / "valid.parquet"), text, templates, trained.prompt_history,
                        settings.negatives, settings.seed + 1, settings.valid_samples)
    model, tokenizer = load_backbone(sft_dir)
    ref_model, _ = load_backbone(sft_dir)
    train_set = PreferenceDataset(train, text, template, tokenizer, settings.max_length)
    valid_set = PreferenceDataset(valid, text, template, tokenizer, settings.max_length)
    ga = gradient_accumulation(settings.batch_size, settings.micro_batch_size, world_size())
    steps_per_epoch = max(1, len(train_set) // settings.batch_size)
    eval_steps = max(1, round(settings.eval_every_epochs * steps_per_epoch))
    log.info("S-DPO: %d training rows x %d negatives, %d valid rows; %d steps an epoch, accumulation %d",
             len(train_set), settings.negatives, len(valid_set), steps_per_epoch, ga)
    args = TrainingArguments(
        output_dir=str(work_dir), per_device_train_batch_size=settings.micro_batch_size,
        per_device_eval_batch_size=settings.micro_batch_size, gradient_accumulation_steps=ga,
        learning_rate=settings.learning_rate, num_train_epochs=settings.epochs, lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=round(settings.warmup_ratio * steps_per_epoch * settings.epochs),
        weight_decay=settings.weight_decay, max_grad_norm=settings.max_grad_norm,
        bf16=use_bf16(settings.precision, "sdpo.training.precision"),
        eval_strategy="steps", eval_steps=eval_steps, save_strategy="steps", save_steps=eval_steps, save_total_limit=2,
        load_best_model_at_end=True, metric_for_best_model="eval_loss", logging_steps=1, seed=settings.seed,
        data_seed=settings.seed, report_to=[], remove_unused_columns=False, disable_tqdm=False,
        use_cpu=not torch.cuda.is_available(),
    )
    clock = EpochClock()
    callbacks = [clock] + ([TimeLimit(settings.max_seconds)] if settings.max_seconds else [])
    trainer = SoftmaxDPOTrainer(model=model, args=args, train_dataset=train_set, eval_dataset=valid_set,
                                data_collator=PreferenceCollator(tokenizer.pad_token_id), callbacks=callbacks,
                                ref_model=ref_model, beta=settings.beta, negatives=settings.negatives)
    last = get_last_checkpoint(str(work_dir)) if Path(work_dir).is_dir() else None
    if last:
        log.info("resuming from %s", last)
    result = trainer.train(resume_from_checkpoint=last)
    sft = read_json(Path(sft_dir) / "training.json")
    info = {
        "stage": "sdpo", "sdpo": dataclasses.asdict(settings), "rows": len(train_set), "valid_rows": len(valid_set),
        "sft_model": str(sft_dir), "sft_seconds": sft["seconds"], "devices": world_size(),
        "gradient_accumulation": ga, "steps": trainer.state.global_step, "epochs_run": trainer.state.epoch,
        "best_checkpoint": trainer.state.best_model_checkpoint, "best_eval_loss": trainer.state.best_metric,
        "train_loss": result.training_loss, "resumed_from": last, "epoch_seconds": clock.seconds,
        "seconds": round(time.monotonic() - started, 1), "log_history": trainer.state.log_history,
        **trained.record(),
    }
    save_final_model(trainer, tokenizer, out_dir, info, work_dir)
    return info

