"""BIGRec's grounding step (Bao et al. 2023, "A Bi-Step Grounding Paradigm"; SAI990323/BIGRec @ bb4dd0a):
the title-writing LLM generates freely, then every item is ranked by how close its title is to what it wrote.

1. Generation (inference.py): beam search with 4 beams, no constraint; the first beam's text is the prediction.
2. Grounding (data/game/evaluate.py): the prediction and every item's title are embedded as the last layer's
   hidden state at the last token, and items are ranked by L2 distance.
3. Adjustments (data/movie/adjust_pda.py, data/game/adjust_ci.py): with the distances min-max normalised per row
   and a prior `a` min-max normalised over items (popularity in the training split, or the collaborative model's
   score of the row's history), an item's score is (1 + a)^(-gamma) * distance, lower first.

Items sharing a title have one embedding, so they are one ranked entry (the tie rule of every title method:
a hit counts 1 in `metrics`, 1/G in `metrics_collision_corrected`); an entry's score is its best item's.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from genrec.evaluate.predict import row_batches, shard_of
from genrec.evaluate.scoring import TITLES_SHOWN
from genrec.evaluate.settings import GroundingSettings
from genrec.progress import progress
from genrec.prompts import RECOMMENDATION_TASK, ItemText, Template, recommendation_prompt

@torch.no_grad()
def last_token_embeddings(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: list[str],
                          batch_size: int) -> torch.Tensor:
    """texts x hidden: the last layer's hidden state at each text's last token (left padding, as BIGRec)."""
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    try:
        out = []
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True,
                              add_special_tokens=False).to(model.device)
            hidden = model(**batch, output_hidden_states=True).hidden_states[-1]
            out.append(hidden[:, -1].float().cpu())
        return torch.cat(out)
    finally:
        tokenizer.padding_side = side


@torch.no_grad()
def generate_titles(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[str],
                    template: Template, settings: GroundingSettings) -> list[str]:
    """The first beam's response to each prompt, unconstrained, with the response's wrapping (quotes, newline)
    removed as BIGRec strips it, so it reads like an item title."""
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    texts = []
    try:
        for start in range(0, len(prompts), settings.generation_batch_size):
            batch = tokenizer(prompts[start:start + settings.generation_batch_size], return_tensors="pt",
                              padding=True, add_special_tokens=False).to(model.device)
            generated = model.generate(**batch, num_beams=settings.num_beams, num_return_sequences=1,
                                       do_sample=False, max_new_tokens=settings.max_new_tokens, length_penalty=1.0,
                                       early_stopping=True, pad_token_id=tokenizer.pad_token_id,
                                       eos_token_id=tokenizer.eos_token_id)
            texts += tokenizer.batch_decode(generated[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    finally:
        tokenizer.padding_side = side
    head, _, tail = template.title_response("\0").partition("\0")
    return [text.strip().removeprefix(head.strip()).removesuffix(tail.strip()).strip() for text in texts]


def min_max(x: torch.Tensor) -> torch.Tensor:
    """Each row scaled to [0, 1] (a constant row to 0), as the adjustment scripts normalise."""
    low, high = x.min(dim=-1, keepdim=True).values, x.max(dim=-1, keepdim=True).values
    return (x - low) / (high - low).clamp(min=1e-12)


def grounding_scores(predicted: torch.Tensor, titles: torch.Tensor, title_of_item: torch.Tensor,
                     prior: torch.Tensor | None = None, gamma: float = 0.0) -> torch.Tensor:
    """rows x items, lower is better: the L2 distance of each item's title embedding to the row's prediction,
    scaled by (1 + prior)^(-gamma) where a prior (rows x items or items, min-max normalised) is given."""
    distance = torch.cdist(predicted, titles)[:, title_of_item]
    if prior is None or gamma == 0:
        return distance
    return torch.pow(1 + min_max(prior.expand_as(distance)), -gamma) * min_max(distance)


def rank_titles(scores: torch.Tensor, title_of_item: torch.Tensor, k: int,
                banned: list[list[int]] | None = None) -> list[list[tuple[int, list[int], float]]]:
    """Per row, the k best distinct titles by their best item's score: (title, its items best first, that
    score), best first. With `banned`, titles of the row's banned items are left out (evaluate.mask_history)."""
    n_titles = int(title_of_item.max()) + 1
    index = title_of_item.expand_as(scores)
    best = torch.full((scores.shape[0], n_titles), float("inf")).scatter_reduce(1, index, scores, "amin")
    for row, items in enumerate(banned or []):
        if len(items):
            best[row, title_of_item[torch.as_tensor(items, dtype=torch.long)]] = float("inf")
    order = torch.argsort(best, dim=1, stable=True)[:, :k]
    items_of_title: list[list[int]] = [[] for _ in range(n_titles)]
    for item, title in enumerate(title_of_item.tolist()):
        items_of_title[title].append(item)
    out = []
    for row in range(scores.shape[0]):
        entries = []
        for title in order[row].tolist():
            if best[row, title] == float("inf"):
                break
            group = sorted(items_of_title[title], key=lambda i: (float(scores[row, i]), i))
            entries.append((title, group, float(best[row, title])))
        out.append(entries)
    return out


def title_groups(titles: list[str]) -> tuple[list[str], torch.Tensor]:
    """The distinct titles, in first-seen order, and each item's position among them."""
    position: dict[str, int] = {}
    title_of_item = [position.setdefault(title, len(position)) for title in titles]
    return list(position), torch.tensor(title_of_item, dtype=torch.long)


def ground_split(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, split: pd.DataFrame, text: ItemText,
                 templates: dict[str, Template], settings: GroundingSettings, batch_size: int, k: int,
                 prompt_history: int, mask_history: bool, prior=None, shard: int = 0,
                 shards: int = 1) -> list[dict]:
    """Prediction records of this shard's rows, in predict_split's format: the k best distinct titles, their
    items, scores (negated, so higher is better as in every record) and the generated text. `prior` maps the
    shard's histories to a rows x items tensor (or is an items tensor) for the adjustment."""
    task = RECOMMENDATION_TASK["title"]
    histories = [list(h)[-prompt_history:] for h in split["history"]]
    prompts = [recommendation_prompt(templates, text, h, task=task) for h in histories]
    lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]]
    batches = shard_of(row_batches(lengths, batch_size), shard, shards)
    names, title_of_item = title_groups(text.titles)
    model.eval()
    title_vectors = last_token_embeddings(model, tokenizer, names, settings.embedding_batch_size)
    users, targets = split["user_id"].to_numpy(), split["target"].to_numpy()
    seen = [list(h) for h in split["history"]]
    records = []
    for rows in progress(batches, desc=f"generate + ground (shard {shard + 1}/{shards})", unit="batch"):
        written = generate_titles(model, tokenizer, [prompts[i] for i in rows], templates[task], settings)
        predicted = last_token_embeddings(model, tokenizer, written, settings.embedding_batch_size)
        row_prior = prior([seen[i] for i in rows]) if callable(prior) else prior
        scores = grounding_scores(predicted, title_vectors, title_of_item, row_prior, settings.gamma)
        ranked = rank_titles(scores, title_of_item, k, [seen[i] for i in rows] if mask_history else None)
        for row, generated, entries in zip(rows, written, ranked):
            items = [item for _, group, _ in entries for item in group]
            target = int(targets[row])
            records.append({
                "row": int(row), "user_id": int(users[row]), "target": target, "target_sid": text.titles[target],
                "sids": [names[title] for title, _, _ in entries], "items": items,
                "scores": [round(-s, 5) for _, _, s in entries], "invalid": 0, "generated": generated,
                "history": [int(i) for i in histories[row]], "target_title": text.titles[target],
                "titles": [text.titles[i] for i in items[:TITLES_SHOWN]],
            })
    return records


def popularity_prior(train: pd.DataFrame, n_items: int) -> torch.Tensor:
    """adjust_pda.py's prior: each item's share of the training split's interactions (its targets, as MostPop
    counts them)."""
    counts = np.bincount(train["target"].to_numpy(), minlength=n_items).astype(np.float64)
    return torch.as_tensor(counts / counts.sum(), dtype=torch.float32)
