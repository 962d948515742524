"""OpenOneRec's on-policy distillation for general capability (verl_distillation, recipe/onpolicy_distill): the chat
SFT model (the student) samples replies to general prompts, the model before stage 1 (the teacher) scores every
token of them, and the student minimises the reverse KL to the teacher on its own samples. TRL's `GKDTrainer` with
lambda 1 (every batch on-policy) and beta 1 (reverse KL) runs it, its loss replaced by verl's in expectation over the
token the rollout samples rather than verl's one-sample estimate (`OnPolicyDistillTrainer`; docs/fidelity.md,
"distillation"): both models scored at the rollout temperature, over the tokens the rollout can sample (top_k,
top_p), the per-token advantage -(log p_s - log p_t) clipped.

The student's vocabulary is the teacher's plus the itemic tokens (and, for a tiny backbone, the chat markers), so the
teacher scores on the student's vocabulary as OpenOneRec's rollout does (tool_agent_loop.py, dp_actor.py): a token
it lacks is read as its end token and given the log-probability floor (`ref_log_prob_replace_val`), and a reply ends
at the first such token (verl masks every token after it). A chat marker the teacher lacks has a meaning it knows:
the end of a turn is its end of text.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase, set_seed
from transformers.modeling_outputs import CausalLMOutput
from transformers.trainer_utils import get_last_checkpoint
from trl.experimental.gkd import GKDConfig, GKDTrainer

from genrec.errors import GenrecError
from genrec.io import read_json
from genrec.models.backbone import load_backbone
from genrec.models.checkpoint import SID_INDEX, trained_with, save_final_model
from genrec.openonerec.chat import IM_END, render_chat, text_messages
from genrec.openonerec.pretrain import end_of_text
from genrec.openonerec.settings import DISTILL, DistillSettings, OpenOneRecJob
from genrec.precision import use_bf16
from genrec.sft.train import schedule_steps
from genrec.training import gradient_accumulation, world_size

log = logging.getLogger(__name__)

# onerec_dataset.py's think modes: what follows every user turn of a prompt ("auto" draws one of the three)
THINK_SUFFIXES = {"force_think": (" /think",), "force_nothink": (" /no_think",), "auto": ("", " /think", " /no_think"),
                  "none": ("",)}


def on_policy_distill_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float,
                           top_k: int, top_p: float, advantage_min: float | None,
                           advantage_max: float | None) -> torch.Tensor:
    """verl's distillation loss at each position, in expectation over the token the rollout samples there.

    verl samples v from q (the student at `temperature`, cut to its `top_k` and `top_p`), and its loss on v is
    -A(v) log p_s(v), with A = clip(log p_t(v) - log p_s(v), advantage_min, advantage_max), both at `temperature` (a
    ratio of 1: one update per rollout). Over v ~ q that is sum_v q(v) d(v) log p_s(v), d = -A a constant; the value
    returned is sum_v q(v) d(v), the clipped reverse KL the rollout estimates (without truncation and bounds, the
    reverse KL), with that gradient."""
    from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

    student = torch.log_softmax(student_logits / temperature, dim=-1)
    teacher = torch.log_softmax(teacher_logits / temperature, dim=-1)
    anchor = student.detach()
    gap = anchor - teacher                                                  # log p_s - log p_t
    if advantage_min is not None or advantage_max is not None:
        gap = torch.clamp(gap, min=None if advantage_max is None else -advantage_max,
                          max=None if advantage_min is None else -advantage_min)
    scores = anchor.reshape(-1, anchor.shape[-1])
    if top_k:
        scores = TopKLogitsWarper(top_k)(None, scores)
    if top_p < 1:
        scores = TopPLogitsWarper(top_p)(None, scores)
    sampled = torch.softmax(scores, dim=-1).reshape(anchor.shape)          # q: what the rollout draws from
    # student - anchor is 0 with gradient grad log p_s: value sum q d, gradient sum q d grad log p_s
    return (sampled * gap * (1 + student - anchor)).sum(-1)


class OnPolicyDistillTrainer(GKDTrainer):
    """TRL's GKD with lambda 1 and beta 1, its loss verl's on-policy distillation signal in expectation
    (`on_policy_distill_loss`): student and teacher at the rollout temperature, over the tokens the rollout can
    sample, the advantage clipped. (GKD's own loss reads logits at temperature 1, over the whole vocabulary,
    unclipped.)"""

    def __init__(self, *args, top_k: int, top_p: float, advantage_min: float | None, advantage_max: float | None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.top_k, self.top_p = top_k, top_p
        self.advantage_min, self.advantage_max = advantage_min, advantage_max

    def generalized_jsd_loss(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                             labels: torch.Tensor | None = None, beta: float = 1.0, temperature: float = 1.0,
                             reduction: str = "batchmean", num_items_in_batch=None) -> torch.Tensor:
        per_token = on_policy_distill_loss(student_logits, teacher_logits, self.temperature, self.top_k, self.top_p,
                                           self.advantage_min, self.advantage_max)
        mask = labels != -100 if labels is not None else torch.ones_like(per_token, dtype=torch.bool)
        # verl's token-mean. The prompt-only batches carry no labels, so the Trainer counts no tokens
        # (num_items_in_batch is None) and averages the micro-batches' means when it accumulates, as verl does
        tokens = num_items_in_batch if num_items_in_batch is not None else mask.sum().clamp_min(1)
        return per_token[mask].sum() / tokens


def distillation_prompts(general_chat: pd.DataFrame, tokenizer: PreTrainedTokenizerBase, settings: DistillSettings,
                         seed: int) -> list[str]:
    """The rollout prompts, as OneRecDataset builds them: each training conversation's turns up to its first user
    turn (the first exchange without its answer), a think suffix drawn per prompt after the question, rendered by the
    chat template with the assistant's turn opened; `max_prompts` of them drawn."""
    rows = general_chat[general_chat["split"] == "train"]
    rng = np.random.default_rng(seed)
    if settings.max_prompts is not None and len(rows) > settings.max_prompts:
        rows = rows.iloc[np.sort(rng.choice(len(rows), size=settings.max_prompts, replace=False))]
    suffixes = THINK_SUFFIXES[settings.think_mode]
    prompts = []
    for stored in rows["messages"]:
        messages = text_messages(stored)
        first_user = next((i for i, m in enumerate(messages) if m["role"] == "user"), None)
        if first_user is None:
            continue
        prompt = [dict(m) for m in messages[:first_user + 1]]
        suffix = suffixes[rng.integers(len(suffixes))]
        for message in prompt:
            if message["role"] == "user":
                message["content"] += suffix
        prompts.append(render_chat(tokenizer, prompt, add_generation_prompt=True))
    return prompts


class TeacherOnStudentVocabulary(torch.nn.Module):
    """The teacher read and scored on the student's vocabulary (which extends the teacher's `known` tokens): a
    student token the teacher lacks is read as the teacher's end token and has the log-probability `floor` (at
    `temperature`, the one the loss reads the logits at), except
    an alias (a student token the teacher knows by another id), which is read as that id and takes its logit.
    `config.vocab_size` is the student's, which GKD checks. (A Qwen3 teacher has more embedding rows than tokens:
    stage 1 gives the rows past its tokenizer to itemic tokens, so `known` is the tokenizer's length.)"""

    def __init__(self, teacher: PreTrainedModel, known: int, student_vocab_size: int, aliases: dict[int, int],
                 end_id: int, floor: float, temperature: float = 1.0):
        super().__init__()
        self.teacher, self.known, self.floor, self.temperature = teacher, known, floor, temperature
        self.config = copy.deepcopy(teacher.config)
        self.config.vocab_size = student_vocab_size
        read_as = torch.arange(student_vocab_size)
        read_as[known:] = end_id
        for student_id, teacher_id in aliases.items():
            read_as[student_id] = teacher_id
        self.register_buffer("read_as", read_as, persistent=False)
        self.aliases = sorted(aliases.items())

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_) -> CausalLMOutput:
        logits = self.teacher(input_ids=self.read_as[input_ids], attention_mask=attention_mask).logits[..., :self.known]
        # the floor as a logit whose log-probability is `floor` at the temperature the loss reads the logits at
        # (verl overwrites the log-probability after its temperature)
        t = self.temperature
        floor = t * (torch.logsumexp(logits / t, dim=-1, keepdim=True) + self.floor)
        out = torch.cat([logits, floor.expand(*logits.shape[:-1], self.config.vocab_size - self.known)], dim=-1)
        for student_id, teacher_id in self.aliases:    # the alias takes the logit; its old id keeps none of it
            out[..., student_id] = logits[..., teacher_id]
            out[..., teacher_id] = floor[..., 0]
        return CausalLMOutput(logits=out)


def teacher_on_student_vocabulary(teacher: PreTrainedModel, teacher_tokenizer: PreTrainedTokenizerBase,
                                  student: PreTrainedModel, student_tokenizer: PreTrainedTokenizerBase,
                                  floor: float, temperature: float = 1.0) -> tuple[TeacherOnStudentVocabulary, list[int]]:
    """The teacher on the student's vocabulary, and the student tokens a reply ends at (its turn's end, its end of
    text, and every token the teacher lacks, padding rows included). The student's vocabulary must begin with the
    teacher's, token for token (stage 1 appends to it)."""
    teacher_vocab, student_vocab = teacher_tokenizer.get_vocab(), student_tokenizer.get_vocab()
    differing = [t for t, i in teacher_vocab.items() if student_vocab.get(t) != i]
    if differing:
        raise GenrecError(f"the student's vocabulary does not extend the teacher's: {len(differing)} tokens differ "
                          f"(e.g. {differing[:3]})", fix="distil a model trained from this teacher (its stage 1 "
                          "appends the itemic tokens to the teacher's vocabulary)")
    known = len(teacher_tokenizer)
    end_id = teacher_vocab.get(IM_END, end_of_text(teacher_tokenizer))
    aliases = {} if IM_END in teacher_vocab else {student_vocab[IM_END]: end_id}
    size = student.get_output_embeddings().weight.shape[0]
    wrapped = TeacherOnStudentVocabulary(teacher, known, size, aliases, end_id, floor, temperature)
    lacking = [i for i in range(known, size) if i not in aliases]
    stops = sorted({student_vocab[IM_END], student_tokenizer.eos_token_id, *lacking})
    return wrapped, stops


class PromptCollator:
    """Batches of left-padded prompts, the last `max_length` tokens of each, for GKD's rollouts. No labels: the
    Trainer would count the loss's tokens from them, but the loss is on the rollout, which replaces them."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_length: int):
        self.tokenizer, self.max_length = tokenizer, max_length

    def __call__(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        ids = [self.tokenizer(e["prompt"], add_special_tokens=False)["input_ids"][-self.max_length:] for e in examples]
        width = max(map(len, ids))
        pad = self.tokenizer.pad_token_id
        prompts = torch.tensor([[pad] * (width - len(row)) + row for row in ids])
        mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in ids])
        return {"prompts": prompts, "prompt_attention_mask": mask, "input_ids": prompts, "attention_mask": mask}


def run_distill(job: OpenOneRecJob, student_dir: str | Path, teacher_dir: str | Path, general_chat: pd.DataFrame,
                out_dir: str | Path, work_dir: str | Path) -> dict:
    """Distil the chat SFT model in `student_dir` from the base model in `teacher_dir` on the general chats' prompts;
    the checkpoint keeps the SFT model's decoding prompt and SID index."""
    from datasets import Dataset

    if job.distill is None:
        raise GenrecError("the distillation stage has no distill settings", key="openonerec.distill")
    started = time.monotonic()
    settings, schedule = job.distill, job.sft
    set_seed(schedule.seed)
    trained, index_path = trained_with(student_dir)
    student, tokenizer = load_backbone(student_dir, job.backbone.dtype)
    teacher, teacher_tokenizer = load_backbone(teacher_dir, job.backbone.dtype)
    wrapped, stops = teacher_on_student_vocabulary(teacher, teacher_tokenizer, student, tokenizer,
                                                   settings.logprob_floor, settings.temperature)
    prompts = distillation_prompts(general_chat, tokenizer, settings, schedule.seed)
    ga = gradient_accumulation(schedule.batch_size, schedule.micro_batch_size, world_size())
    steps_per_epoch, save_steps, warmup_steps = schedule_steps(schedule, len(prompts))
    args = GKDConfig(
        output_dir=str(work_dir), per_device_train_batch_size=schedule.micro_batch_size,
        gradient_accumulation_steps=ga, learning_rate=schedule.learning_rate, num_train_epochs=schedule.epochs,
        lr_scheduler_type=schedule.lr_scheduler, warmup_steps=warmup_steps,
        lr_scheduler_kwargs={"min_lr_rate": schedule.min_lr_rate} if schedule.min_lr_rate is not None else {},
        adam_beta2=schedule.adam_beta2, weight_decay=schedule.weight_decay, optim=schedule.optimizer,
        max_grad_norm=schedule.max_grad_norm, bf16=use_bf16(schedule.precision),
        lmbda=settings.lmbda, beta=settings.beta, temperature=settings.temperature,
        max_new_tokens=settings.max_new_tokens, max_length=settings.max_prompt_length + settings.max_new_tokens,
        eval_strategy="no", save_strategy="steps", save_total_limit=1,
        save_steps=save_steps,
        logging_steps=max(1, steps_per_epoch // 20), seed=schedule.seed, data_seed=schedule.seed, report_to=[],
        use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0, disable_tqdm=False,
        gradient_checkpointing=False, disable_dropout=True,
    )
    trainer = OnPolicyDistillTrainer(model=student, teacher_model=wrapped, args=args,
                                     train_dataset=Dataset.from_dict({"prompt": prompts}), processing_class=tokenizer,
                                     data_collator=PromptCollator(tokenizer, settings.max_prompt_length),
                                     top_k=settings.top_k, top_p=settings.top_p,
                                     advantage_min=settings.advantage_min, advantage_max=settings.advantage_max)
    # the script's rollout sampling (GKD fixes top_p 1, top_k 0), ending at the tokens the teacher cannot score
    sampling = {"top_p": settings.top_p, "top_k": settings.top_k, "eos_token_id": stops}
    trainer.generation_kwargs.update(sampling)
    for name, value in sampling.items():
        setattr(trainer.generation_config, name, value)
    last = get_last_checkpoint(str(work_dir)) if Path(work_dir).is_dir() else None
    if last:
        log.info("resuming from %s", last)
    log.info("distillation: %d prompts, %d steps an epoch, %d reply-ending tokens", len(prompts), steps_per_epoch,
             len(stops))
    result = trainer.train(resume_from_checkpoint=last)
    sft = read_json(Path(student_dir) / "training.json")
    info = {"stage": DISTILL, "job": json.loads(job.to_json()), "prompts": len(prompts), "student": str(student_dir),
            "teacher": str(teacher_dir), "teacher_vocab_size": wrapped.known, "vocab_size": len(tokenizer),
            "sft_seconds": sft.get("seconds"), "gradient_accumulation": ga, "steps": trainer.state.global_step,
            "epochs_run": trainer.state.epoch, "train_loss": result.training_loss, "resumed_from": last,
            "seconds": round(time.monotonic() - started, 1), "log_history": trainer.state.log_history,
            **trained.record()}
    save_final_model(trainer, tokenizer, out_dir, info, work_dir, extra_files={SID_INDEX: index_path})
    return info
