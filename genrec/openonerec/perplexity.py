"""General-text perplexity: how much language a stage kept (OpenOneRec's reason for mixing general text into every
stage and for distilling at the end), on the corpus's held-out conversations that no stage trains or selects on.

Each held-out segment is scored as the stages train on segments (`SegmentWindows`: text then EOS, windows of the
training length); perplexity is exp of the mean token loss, with a bootstrap interval over conversations.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from genrec.evaluate.metrics import bootstrap_interval
from genrec.openonerec.pretrain import SegmentWindows, segment_texts
from genrec.openonerec.settings import PerplexitySettings
from genrec.sft.dataset import IGNORE, LeftPadCollator

HELDOUT = "heldout"


@torch.no_grad()
def token_losses(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int,
                 batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Every scored token's loss (nats) and the index of the text it belongs to."""
    model.eval()
    losses, owners = [], []
    windows, text_of = [], []
    for i, text in enumerate(texts):
        for window in SegmentWindows([text], tokenizer, max_length).items:
            windows.append({"input_ids": window[0], "labels": window[1]})
            text_of.append(i)
    collate = LeftPadCollator(tokenizer.pad_token_id)
    order = np.argsort([len(w["input_ids"]) for w in windows], kind="stable")   # similar lengths pad little
    device = next(model.parameters()).device
    for start in tqdm(range(0, len(order), batch_size), desc="perplexity", unit="batch"):
        rows = order[start:start + batch_size]
        batch = collate([windows[r] for r in rows])
        labels = batch.pop("labels")
        batch.pop("logits_to_keep")
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits[:, :-1].float()
        targets = labels[:, 1:].to(device)
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets.clamp(min=0), reduction="none")
        scored = targets != IGNORE
        for row, owner in enumerate(rows):
            losses.append(loss[row][scored[row]].cpu().numpy())
            owners.append(np.full(int(scored[row].sum()), text_of[owner]))
    return np.concatenate(losses), np.concatenate(owners)


def general_perplexity(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, general: pd.DataFrame,
                       settings: PerplexitySettings) -> dict:
    """Perplexity on the general corpus's held-out segments, with a 95 % interval (conversations resampled)."""
    started = time.monotonic()
    texts = segment_texts(general, HELDOUT)
    losses, owners = token_losses(model, tokenizer, texts, settings.max_length, settings.batch_size)
    low, high = bootstrap_interval(losses, owners)
    nll = float(losses.mean())
    # each conversation's tokens and summed loss: two models on one tokenizer compare paired (`genrec compare`)
    text_tokens = np.bincount(owners, minlength=len(texts))
    text_nll = np.bincount(owners, weights=losses, minlength=len(texts))
    return {"split": HELDOUT, "texts": len(texts), "tokens": int(len(losses)), "nll": nll,
            "perplexity": math.exp(nll), "perplexity_ci95": [math.exp(low), math.exp(high)],
            "vocab_size": len(tokenizer), "text_tokens": text_tokens.tolist(),
            "text_nll": [round(float(v), 4) for v in text_nll],
            "settings": settings.to_dict(), "seconds": round(time.monotonic() - started, 1)}
