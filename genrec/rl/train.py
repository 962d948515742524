"""RL entry point: GRPO (TRL's `GRPOTrainer`) from an SFT checkpoint, with constrained rollouts and one reward.

The SFT checkpoint directory is the policy's starting point and the KL reference: TRL rebuilds the reference
from the policy's `_name_or_path`, which is that directory (optionally synced to the policy every
`ref_model_sync_steps`). `batch_size` is global and counts completions (prompts x `num_generations`) per
optimizer step, like TRL's; accumulation is derived as in SFT. Per-step statistics (reward, fraction of groups
with a hit, KL, loss) stream to `rl_steps.jsonl`, which lands in the model directory for the dashboard.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from pathlib import Path

import torch
from transformers import TrainerCallback, set_seed
from transformers.trainer_utils import get_last_checkpoint

from genrec.data.prepared import prompt_category
from genrec.errors import GenrecError
from genrec.models.baselines.scorer import load_scorer
from genrec.evaluate.predict import trie_groups
from genrec.io import read_json
from genrec.io import read_table
from genrec.models.backbone import load_backbone
from genrec.models.checkpoint import SID_INDEX, save_final_model, trained_with
from genrec.models.sid_vocab import sid_trie
from genrec.precision import use_bf16
from genrec.prompts import ItemText, stage_templates
from genrec.rl.data import rl_examples, unique_prompts
from genrec.rl.rewards import trl_reward_functions
from genrec.rl.rollout import SIDRollout
from genrec.rl.settings import RLSettings
from genrec.sft.tasks import check_templates, task_weight
from genrec.tokenize.index import read_index
from genrec.training import TimeLimit, gradient_accumulation, world_size

log = logging.getLogger(__name__)
# TRL marks `rollout_func` experimental and warns on every trainer; the pinned TRL version is the one tested
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

STEP_FIELDS = ("reward", "reward_std", "rewards/group_hit/mean", "frac_reward_zero_std", "kl", "loss",
               "grad_norm", "learning_rate", "entropy")


class StepLog(TrainerCallback):
    """Appends each logging step's GRPO statistics to a JSONL file (read by the dashboard)."""

    def __init__(self, path: Path):
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "reward" in logs and state.is_world_process_zero:
            row = {"step": state.global_step, "epoch": state.epoch,
                   **{name: logs[name] for name in STEP_FIELDS if name in logs}}
            row["group_hit_rate"] = row.pop("rewards/group_hit/mean", None)
            with open(self.path, "a") as handle:
                handle.write(json.dumps(row) + "\n")


def run_rl(sft_dir: str | Path, reward: str, settings: RLSettings, data_dir: str | Path, out_dir: str | Path,
           work_dir: str | Path, embeddings: str | Path | None = None, scorer_dir: str | Path | None = None,
           threads: int | None = None, stage: str | None = None) -> dict:
    """GRPO of the SFT model in `sft_dir` with `reward`; writes the polished model to `out_dir`. The prompts, their
    history cap and the SID index are the SFT checkpoint's (RL's own checkpoint records them again). `stage` names
    the result (default `rl-{reward}`; OpenOneRec's GRPO is `openonerec-grpo`)."""
    started = time.monotonic()
    settings.check_reward(reward)
    gradient_accumulation(settings.batch_size, settings.micro_batch_size, world_size())
    scorer = load_scorer(scorer_dir, "the cf reward") if reward == "cf" else None
    vectors = None
    if reward == "semantic":
        from genrec.embed.encode import load_embeddings

        if embeddings is None:
            raise GenrecError("the semantic reward needs item embeddings", fix="pass --embeddings PATH.npy")
        vectors = load_embeddings(embeddings, n_items=len(read_table(Path(data_dir) / "items.parquet")))
    trained, index_path = trained_with(sft_dir)
    templates = stage_templates(trained.templates, "rl", f"prompts.{trained.prompts}")
    check_templates(templates, [t for t, w in settings.tasks.items() if task_weight(w) > 0],
                    f"prompts.{trained.prompts}.rl")
    set_seed(settings.seed)
    if threads:
        torch.set_num_threads(threads)
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    data_dir = Path(data_dir)
    items = read_table(data_dir / "items.parquet")
    index = read_index(index_path, n_items=len(items))
    text = ItemText.build(items, index, prompt_category(data_dir))
    examples = unique_prompts(rl_examples(settings.tasks, settings.max_samples, templates, text,
                                          read_table(data_dir / "train.parquet"), trained.prompt_history,
                                          settings.seed))

    model, tokenizer = load_backbone(sft_dir)      # _name_or_path = sft_dir: TRL's reference loads from it
    end = templates["seq_rec"].response_tail() if settings.score_eos else None
    trie = sid_trie(tokenizer, index, source=str(sft_dir), end=end)
    item_tokens = trie.item_paths.numpy()
    leaf_items = trie_groups(trie)
    canonical = [leaf_items[leaf][0] for leaf in trie.leaf_of_item.tolist()]   # an item = its SID's first item
    dataset = Dataset.from_list([{"prompt": e.prompt, "task": e.task, "target": canonical[e.target],
                                  "history": list(e.history)} for e in examples])
    counts = {task: sum(e.task == task for e in examples) for task in settings.tasks}
    ga = gradient_accumulation(settings.batch_size, settings.micro_batch_size, world_size())
    log.info("RL (%s reward): %s prompts, %d completions per step (%d per group), accumulation %d",
             reward, counts, settings.batch_size, settings.num_generations, ga)

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    steps_file = work_dir / "rl_steps.jsonl"
    args = GRPOConfig(
        output_dir=str(work_dir), per_device_train_batch_size=settings.micro_batch_size,
        gradient_accumulation_steps=ga, num_generations=settings.num_generations,
        max_completion_length=trie.levels, learning_rate=settings.learning_rate,
        num_train_epochs=settings.epochs, lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=settings.warmup_ratio, weight_decay=settings.weight_decay, max_grad_norm=settings.max_grad_norm,
        beta=settings.beta,
        sync_ref_model=settings.sync_ref_model and settings.beta > 0, ref_model_sync_steps=settings.ref_model_sync_steps,
        ref_model_mixup_alpha=settings.ref_model_mixup_alpha, loss_type=settings.loss_type,
        scale_rewards=settings.scale_rewards, epsilon=settings.epsilon, epsilon_high=settings.epsilon_high,
        reward_weights=[1.0, 0.0],
        disable_dropout=True, remove_unused_columns=False, gradient_checkpointing=settings.gradient_checkpointing,
        bf16=use_bf16(settings.precision, "rl.precision"),
        logging_steps=1, save_strategy="steps", save_steps=settings.save_every_steps, save_total_limit=1,
        report_to=[], seed=settings.seed, data_seed=settings.seed, use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0, disable_tqdm=False,
    )
    rollout = SIDRollout(tokenizer, trie.to("cuda" if torch.cuda.is_available() else "cpu"), leaf_items,
                         settings.num_generations, settings.rollout, settings.temperature, settings.seed,
                         targets=dict(zip(dataset["prompt"], dataset["target"])),
                         include_target=settings.include_target, item_tokens=item_tokens)
    callbacks = [StepLog(steps_file)] + ([TimeLimit(settings.max_seconds)] if settings.max_seconds else [])
    trainer = GRPOTrainer(model=model, reward_funcs=trl_reward_functions(reward, vectors, scorer), args=args,
                          train_dataset=dataset, processing_class=tokenizer, rollout_func=rollout,
                          callbacks=callbacks)
    last = get_last_checkpoint(str(work_dir))
    if last:
        log.info("resuming from %s", last)
    result = trainer.train(resume_from_checkpoint=last)

    sft = read_json(Path(sft_dir) / "training.json")
    info = {
        "stage": stage or f"rl-{reward}", "reward": reward, "rl": dataclasses.asdict(settings), "prompts": counts,
        "sft_model": str(sft_dir), "sft_seconds": sft["seconds"], "devices": world_size(),
        "gradient_accumulation": ga, "steps": trainer.state.global_step, "epochs_run": trainer.state.epoch,
        "train_loss": result.training_loss, "resumed_from": last,
        "seconds": round(time.monotonic() - started, 1), "log_history": trainer.state.log_history,
        **trained.record(),
    }
    save_final_model(trainer, tokenizer, out_dir, info, work_dir,
                     extra_files={SID_INDEX: index_path, **({"rl_steps.jsonl": steps_file} if steps_file.exists() else {})})
    return info
