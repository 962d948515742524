"""ETEGRec's training (BishopLiu/ETEGRec @ 58d9736, trainer.py `train` and `finetune`), to a TIGER checkpoint.

1. **Alternating phase.** Epoch e trains the item tokenizer when e % C == 0 (its own loss, reconstruction +
   alpha * RQ, plus the two alignments; the recommender frozen), and the recommender otherwise (next-SID
   cross-entropy plus the alignments; the tokenizer frozen). Every item's codes are re-derived after each
   tokenizer epoch. The alignments start after `warm_epochs`. Every `eval_every` epochs the valid NDCG@10 of
   constrained beam search picks the best state (recommender, tokenizer and codes).
2. **Fine-tuning.** From that state, the recommender alone on its fixed codes, cross-entropy only, a fresh
   AdamW at `finetune_learning_rate` with a cosine schedule, the best valid state kept.

Table 4's ablations: `alternating: false` trains both components on every loss at every step (codes re-derived
after each epoch); `end_to_end: false` then trains a fresh recommender on the final codes, cross-entropy only.

The output is TIGER's checkpoint layout (`save_pretrained` T5 + SID tokenizer + `training.json` +
`sid_index.json`, the final codes), so the shared predict and evaluate rules score it like any TIGER run;
`etegrec.pt` holds the trained tokenizer and adapters.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import get_scheduler, set_seed
from transformers.trainer_pt_utils import LengthGroupedSampler

from genrec.etegrec.joint import JointModel, sid_vocabulary, tokenizer_from_state
from genrec.etegrec.settings import ETEGRecSettings
from genrec.evaluate.beam_search import beam_search
from genrec.evaluate.constrained import SIDTrie
from genrec.io import atomic_outputs
from genrec.models.checkpoint import SID_INDEX, TrainedWith
from genrec.models.settings import BackboneSpec
from genrec.models.tiger import build_tiger
from genrec.precision import use_bf16
from genrec.progress import progress
from genrec.tokenize.collisions import collision_summary
from genrec.tokenize.index import codes_to_index, index_json
from genrec.tokenize.rqvae import model_state

log = logging.getLogger(__name__)

IGNORE = -100


class Rows:
    """A split's rows as tensors: the latest `max_history` history items (-1 padded on the right) and the target."""

    def __init__(self, split: pd.DataFrame, max_history: int):
        histories = [list(h)[-max_history:] for h in split["history"]]
        width = max(1, max(len(h) for h in histories))
        self.history = torch.full((len(histories), width), -1, dtype=torch.long)
        for row, history in enumerate(histories):
            self.history[row, :len(history)] = torch.as_tensor(history, dtype=torch.long)
        self.target = torch.tensor(split["target"].to_numpy(), dtype=torch.long)

    def __len__(self) -> int:
        return len(self.target)

    def lengths(self) -> list[int]:
        return (self.history >= 0).sum(1).tolist()


class CodeTable:
    """Item codes -> the recommender's token ids (`token_ids`: items x SID length)."""

    def __init__(self, tokenizer, levels: int, codebook_size: int):
        vocabulary = sid_vocabulary(levels, codebook_size)
        self.by_level = torch.as_tensor(tokenizer.convert_tokens_to_ids(vocabulary)).view(levels + 1, codebook_size)
        self.pad = tokenizer.pad_token_id
        self.codes: np.ndarray | None = None
        self.token_ids = torch.empty(0, dtype=torch.long)

    def set(self, codes: np.ndarray) -> None:
        self.codes = codes
        levels = torch.arange(codes.shape[1])
        self.token_ids = self.by_level[levels, torch.as_tensor(codes)]

    def batch(self, rows: Rows, picked: torch.Tensor, device: torch.device) -> dict:
        """Encoder input (the history's SID tokens back to back, the `sids` prompt), its mask, and the target's
        SID as labels (no EOS: the released code decodes exactly the SID's length)."""
        history = rows.history[picked]
        width = int((history >= 0).sum(1).max())
        history = history[:, :max(width, 1)]
        tokens = self.token_ids[history.clamp(min=0)]                   # B x H x length
        real = (history >= 0).unsqueeze(-1).expand_as(tokens)
        flat, mask = tokens.flatten(1), real.flatten(1)
        # right-pad: move each row's real tokens to the front (histories are left-aligned already)
        input_ids = torch.where(mask, flat, torch.full_like(flat, self.pad))
        targets = rows.target[picked]
        return {"input_ids": input_ids.to(device), "attention_mask": mask.long().to(device),
                "labels": self.token_ids[targets].to(device), "targets": targets.to(device)}


def valid_ndcg(model: JointModel, tokenizer, table: CodeTable, rows: Rows, picked: np.ndarray,
               settings: ETEGRecSettings, k: int = 10) -> float:
    """Valid NDCG@k of constrained beam search over the current codes (the model-selection metric)."""
    index = codes_to_index(table.codes)
    trie = SIDTrie(table.token_ids.numpy()).to(model.item_embeddings.device)
    leaf_of_item = trie.leaf_of_item.cpu().numpy()
    recommender = model.recommender
    recommender.eval()
    gains = []
    bf16 = use_bf16(settings.precision, "etegrec.training.precision") and recommender.device.type == "cuda"
    order = picked[np.argsort([(rows.history[i] >= 0).sum().item() for i in picked], kind="stable")]
    for start in range(0, len(order), settings.eval_batch_size):
        chunk = order[start:start + settings.eval_batch_size]
        prompts = ["".join(t for item in rows.history[i].tolist() if item >= 0 for t in index[item]) for i in chunk]
        with torch.no_grad(), torch.autocast(recommender.device.type, dtype=torch.bfloat16, enabled=bf16):
            beams = beam_search(recommender, tokenizer, prompts, trie, settings.num_beams)
        for i, leaves in zip(chunk, beams.leaves):
            hit = np.flatnonzero(leaves[:k] == leaf_of_item[int(rows.target[i])])
            gains.append(1.0 / math.log2(hit[0] + 2) if len(hit) else 0.0)
    return float(np.mean(gains))


def train_etegrec(backbone: BackboneSpec, settings: ETEGRecSettings, tokenizer_state: dict,
                  item_embeddings: np.ndarray, train: pd.DataFrame, valid: pd.DataFrame, templates: dict,
                  out_dir: str | Path, threads: int | None = None) -> dict:
    """Train ETEGRec (or a Table 4 ablation of it) and write its checkpoint to `out_dir`."""
    started = time.monotonic()
    set_seed(settings.seed)
    if threads:
        torch.set_num_threads(threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    item_tokenizer = tokenizer_from_state(tokenizer_state)
    levels, codebook_size = len(item_tokenizer.codebooks), item_tokenizer.cfg.codebook_size
    recommender, tokenizer = build_tiger(backbone, sid_vocabulary(levels, codebook_size), settings.seed)
    model = JointModel(recommender, item_tokenizer, item_embeddings).to(device)
    table = CodeTable(tokenizer, levels, codebook_size)
    table.set(model.item_codes())
    pretrained_codes = table.codes.copy()
    pretrained = collision_summary(pretrained_codes[:, :-1])
    train_rows, valid_rows = Rows(train, settings.max_history), Rows(valid, settings.max_history)
    rng = np.random.default_rng(settings.seed)
    picked = np.arange(len(valid_rows)) if settings.select_rows is None or settings.select_rows >= len(valid_rows) \
        else np.sort(rng.choice(len(valid_rows), settings.select_rows, replace=False))
    generator = torch.Generator().manual_seed(settings.seed)
    steps_per_epoch = math.ceil(len(train_rows) / settings.batch_size)
    lengths = train_rows.lengths()
    bf16 = use_bf16(settings.precision, "etegrec.training.precision") and device.type == "cuda"
    history: list[dict] = []

    def epochs_of(phase: str, epochs: int, step, evaluate_every: int, patience: int, budget: float | None = None,
                  after_epoch=None):
        """Run `step(epoch, batch)` epochs, evaluate, keep the best state; return (best score, epochs run)."""
        best, waited, run = {"ndcg@10": -1.0}, 0, 0
        for epoch in range(epochs):
            model.train()
            t0, totals = time.monotonic(), {}
            if settings.group_by_length:    # TIGER's SFT batches the same way (HF Trainer's group_by_length)
                order = torch.tensor(list(LengthGroupedSampler(settings.batch_size, lengths=lengths,
                                                               generator=generator)))
            else:
                order = torch.randperm(len(train_rows), generator=generator)
            for start in progress(range(0, len(order), settings.batch_size), desc=f"ETEGRec {phase} {epoch + 1}/{epochs}",
                                  unit="step"):
                batch = table.batch(train_rows, order[start:start + settings.batch_size], device)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    for name, value in step(epoch, batch).items():
                        totals[name] = totals.get(name, 0.0) + value / steps_per_epoch
            if after_epoch is not None:
                after_epoch(epoch)
            record = {"phase": phase, "epoch": epoch + 1, "seconds": round(time.monotonic() - t0, 2),
                      **{k: round(v, 5) for k, v in totals.items()}}
            run = epoch + 1
            if (epoch + 1) % evaluate_every == 0 or epoch + 1 == epochs:
                score = valid_ndcg(model, tokenizer, table, valid_rows, picked, settings)
                record["valid_ndcg@10"] = round(score, 6)
                if score > best["ndcg@10"]:
                    best = {"ndcg@10": score, "epoch": epoch + 1, "codes": table.codes.copy(),
                            "state": copy.deepcopy(model.state_dict())}
                    waited = 0
                else:
                    waited += 1
            history.append(record)
            log.info("%s", json.dumps(record))
            if waited >= patience or (budget is not None and time.monotonic() - started > budget):
                break
        model.load_state_dict(best["state"])
        table.set(best["codes"])
        return best, run

    # --- 1. the alternating phase (or, w/o AT, the joint one) --------------------------------------------------
    rec_params = model.recommender_parameters()
    tok_params = list(model.item_tokenizer.parameters())
    rec_opt = torch.optim.AdamW(rec_params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    tok_opt = torch.optim.AdamW(tok_params, lr=settings.tokenizer_learning_rate, weight_decay=settings.weight_decay)
    total = steps_per_epoch * settings.epochs     # trainer.py: both schedules span all epochs, the tokenizer's / C
    rec_sched = get_scheduler("cosine", rec_opt, num_warmup_steps=settings.warmup_steps, num_training_steps=total)
    tok_sched = get_scheduler("cosine", tok_opt, num_warmup_steps=settings.warmup_steps // settings.cycle,
                              num_training_steps=total // settings.cycle)
    rec_epochs = 0

    def alternating_step(epoch: int, batch: dict) -> dict:
        tokenizer_epoch = epoch % settings.cycle == 0
        warm = epoch >= settings.warm_epochs
        joint = not settings.alternating
        for p in rec_params:
            p.requires_grad_(joint or not tokenizer_epoch)
        for p in tok_params:
            p.requires_grad_(joint or tokenizer_epoch)
        losses = model.losses(batch["input_ids"], batch["attention_mask"], batch["labels"], batch["targets"],
                              sign=settings.code_distance_sign, temperature=settings.temperature,
                              commitment=settings.commitment_weight, recommender_grad=joint or not tokenizer_epoch)
        align = (settings.sia_weight * losses.sia + settings.psa_weight * losses.psa) if warm else 0.0
        if joint:
            loss, optimizers = losses.code + losses.tokenizer + align, [(rec_opt, rec_sched, rec_params),
                                                                         (tok_opt, tok_sched, tok_params)]
        elif tokenizer_epoch:
            loss, optimizers = losses.tokenizer + align, [(tok_opt, tok_sched, tok_params)]
        else:
            loss, optimizers = losses.code + align, [(rec_opt, rec_sched, rec_params)]
        for optimizer, _, _ in optimizers:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for optimizer, scheduler, params in optimizers:
            torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
            optimizer.step()
            scheduler.step()
        return {"loss": loss.item(), "code": losses.code.item(), "sia": losses.sia.item(), "psa": losses.psa.item(),
                "tokenizer": losses.tokenizer.item()}

    def rederive(epoch: int) -> None:
        """The item codes, re-derived once a tokenizer epoch (every epoch w/o AT) has run."""
        if not settings.alternating or epoch % settings.cycle == 0:
            table.set(model.item_codes())

    best_alt, alt_run = epochs_of("alternating", settings.epochs, alternating_step, settings.eval_every,
                                  settings.patience, settings.max_seconds, after_epoch=rederive)
    rec_epochs += sum(1 for e in range(alt_run) if not settings.alternating or e % settings.cycle)
    for p in model.parameters():
        p.requires_grad_(False)

    # --- 2. fine-tuning the recommender on the fixed codes -----------------------------------------------------
    def finetune(phase: str, epochs: int, lr: float, warmup: int) -> tuple[dict, int]:
        for p in rec_params:
            p.requires_grad_(True)
        optimizer = torch.optim.AdamW(rec_params, lr=lr, weight_decay=settings.weight_decay)
        scheduler = get_scheduler("cosine", optimizer, num_warmup_steps=warmup,
                                  num_training_steps=max(1, steps_per_epoch * epochs))

        def code_step(epoch: int, batch: dict) -> dict:
            loss = model.recommender(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                     labels=batch["labels"]).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(rec_params, settings.max_grad_norm)
            optimizer.step()
            scheduler.step()
            return {"code": loss.item()}

        best, run = epochs_of(phase, epochs, code_step, 1, settings.finetune_patience)
        for p in rec_params:
            p.requires_grad_(False)
        return best, run

    best = best_alt
    if settings.finetune_epochs > 0:
        tuned, tuned_run = finetune("finetune", settings.finetune_epochs, settings.finetune_learning_rate, 0)
        rec_epochs += tuned_run
        best = tuned if tuned["ndcg@10"] >= best_alt["ndcg@10"] else best_alt
        model.load_state_dict(best["state"])
        table.set(best["codes"])
    retrained = None
    if not settings.end_to_end:
        # w/o ETE: ETEGRec's final codes, a recommender trained on them from scratch (a TIGER on ETEGRec's IDs)
        fresh, _ = build_tiger(backbone, sid_vocabulary(levels, codebook_size), settings.seed)
        model.recommender.load_state_dict(fresh.state_dict())
        retrained, _ = finetune("retrain", rec_epochs, settings.learning_rate, min(settings.warmup_steps,
                                                                                    steps_per_epoch * rec_epochs // 10))
        best = retrained

    final = table.codes
    info = {
        "method": "etegrec", "backbone": dataclasses.asdict(backbone), "etegrec": settings.to_dict(),
        "parameters": {"recommender": model.recommender.num_parameters(),
                       "tokenizer": sum(p.numel() for p in model.item_tokenizer.parameters())},
        "best": {"phase": "retrain" if retrained else ("finetune" if best is not best_alt else "alternating"),
                 "epoch": best["epoch"], "valid_ndcg@10": round(best["ndcg@10"], 6),
                 "valid_rows_scored": int(len(picked))},
        "alternating_best": {"epoch": best_alt["epoch"], "valid_ndcg@10": round(best_alt["ndcg@10"], 6)},
        "recommender_epochs": rec_epochs,
        "collisions": {"pretrained": pretrained, "final": collision_summary(final[:, :-1]),
                       "final_with_extra_token": collision_summary(final)},
        "items_recoded": round(float((final[:, :-1] != pretrained_codes[:, :-1]).any(1).mean()), 6),
        "items_recoded_by_level": [round(float((final[:, level] != pretrained_codes[:, level]).mean()), 6)
                                   for level in range(levels)],
        "history": history, "seconds": round(time.monotonic() - started, 1),
        **TrainedWith("sids", templates, settings.max_history).record(),
    }
    save_checkpoint(model, tokenizer, final, info, out_dir)
    return info


def save_checkpoint(model: JointModel, tokenizer, codes: np.ndarray, info: dict, out_dir: str | Path) -> None:
    """TIGER's layout (the shared predict rule loads it) plus `etegrec.pt`; all or nothing."""
    with atomic_outputs(out_dir) as (tmp,):
        tmp.unlink()
        model.recommender.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / "training.json").write_text(json.dumps(info, indent=2) + "\n")
        (tmp / SID_INDEX).write_text(index_json(codes_to_index(codes)))
        torch.save({"tokenizer": model_state(model.item_tokenizer, model.item_embeddings.shape[1]),
                    "enc_adapter": model.enc_adapter.state_dict(), "dec_adapter": model.dec_adapter.state_dict()},
                   tmp / "etegrec.pt")
