"""Tokenised SFT examples: prompt tokens are masked out of the loss (label -100), the response ends with EOS
(a sequence example's: its SID tokens are the labels, genrec/sft/sequences.py).

Batches are left-padded, as at generation time, so every response ends at the last position: the model
then computes logits for the last `logits_to_keep` positions only (the longest response + 1) instead of
the whole sequence -- prompts are most of the tokens, and the LM head is a large share of a small model's
work -- and `response_loss` scores exactly those positions.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedTokenizerBase

from genrec.errors import GenrecError
from genrec.sft.example import Example

IGNORE = -100


class SFTDataset(torch.utils.data.Dataset):
    """Pre-tokenised examples; prompts longer than `max_length` lose their oldest tokens, never the response.

    A sequence example (`Example.targets`, genrec/sft/sequences.py) is kept whole, with the loss on the SID
    tokens of its response only (`sid_token_ids`) and no EOS: cutting its start would change the prompt in
    front of its first target.
    """

    def __init__(self, examples: list[Example], tokenizer: PreTrainedTokenizerBase, max_length: int,
                 sid_token_ids: set[int] | None = None):
        prompts = tokenizer([e.prompt for e in examples], add_special_tokens=False)["input_ids"]
        responses = tokenizer([e.response for e in examples], add_special_tokens=False)["input_ids"]
        if sid_token_ids is None and any(e.targets for e in examples):
            raise ValueError("sequence examples need `sid_token_ids`: their loss is on SID tokens only")
        self.items = []
        for example, prompt, response in zip(examples, prompts, responses):
            if example.targets:
                if len(prompt) + len(response) > max_length:
                    raise GenrecError(f"a sequence example of {len(prompt) + len(response)} tokens is longer than "
                                      f"max_length {max_length}", key="sft.max_length",
                                      fix="raise sft.max_length, or lower sft.prompt_history")
                labels = [IGNORE] * len(prompt) + [t if t in sid_token_ids else IGNORE for t in response]
                self.items.append((prompt + response, labels))
                continue
            response = response[: max_length - 1] + [tokenizer.eos_token_id]
            prompt = prompt[max(0, len(prompt) + len(response) - max_length):]
            self.items.append((prompt + response, len(prompt)))

    def __len__(self) -> int:
        return len(self.items)

    def tokens(self) -> int:
        """Tokens of one pass over the examples, padding excluded."""
        return sum(len(ids) for ids, _ in self.items)

    def __getitem__(self, i: int) -> dict:
        ids, labels = self.items[i]
        if isinstance(labels, int):          # a prompt's length: the response after it is the label
            labels = [IGNORE] * labels + ids[labels:]
        return {"input_ids": ids, "labels": labels}


class Seq2SeqDataset(SFTDataset):
    """Encoder-decoder examples (TIGER): the prompt is the encoder input, the response + EOS the labels."""

    def __getitem__(self, i: int) -> dict:
        ids, n_prompt = self.items[i]
        return {"input_ids": ids[:n_prompt], "labels": ids[n_prompt:]}


class FixedShapeSeq2SeqCollator:
    """Right-pads every batch to the same prompt and label widths (the longest of the data), so that a compiled
    encoder-decoder is built once: with the batch's own widths torch.compile rebuilds it for every new shape,
    which made TIGER's GPU step 4x slower instead of faster (README, "TIGER on a GPU")."""

    def __init__(self, model, pad_token_id: int, prompt_width: int, label_width: int):
        self.model, self.pad_token_id = model, pad_token_id
        self.prompt_width, self.label_width = prompt_width, label_width

    def __call__(self, batch: list[dict]) -> dict:
        ids = torch.full((len(batch), self.prompt_width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(batch), self.prompt_width), dtype=torch.long)
        labels = torch.full((len(batch), self.label_width), IGNORE, dtype=torch.long)
        for row, b in enumerate(batch):
            ids[row, :len(b["input_ids"])] = torch.tensor(b["input_ids"])
            mask[row, :len(b["input_ids"])] = 1
            labels[row, :len(b["labels"])] = torch.tensor(b["labels"])
        return {"input_ids": ids, "attention_mask": mask, "labels": labels,
                "decoder_input_ids": self.model.prepare_decoder_input_ids_from_labels(labels=labels)}


class LeftPadCollator:
    """Left-pads a batch to its longest example; positions count real tokens only (as in generation)."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, batch: list[dict]) -> dict:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[row, width - n:] = torch.tensor(b["input_ids"])
            labels[row, width - n:] = torch.tensor(b["labels"])
            mask[row, width - n:] = 1
        # the labelled span: from each row's first label to the end (a sequence example's labels have gaps)
        labelled = labels != IGNORE
        span = int((width - labelled.int().argmax(dim=1))[labelled.any(dim=1)].max()) if labelled.any() else 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask,
                "position_ids": (mask.cumsum(dim=1) - 1).clamp(min=0), "logits_to_keep": span + 1}


def response_loss(outputs, labels: torch.Tensor, num_items_in_batch: torch.Tensor | int | None = None) -> torch.Tensor:
    """Token cross-entropy of the responses from logits of the last positions (see `LeftPadCollator`).

    Summed and divided by the number of response tokens of the whole accumulated batch when the Trainer
    gives it, so gradient accumulation weighs every token equally.
    """
    logits = outputs.logits
    width = logits.shape[1] - 1
    targets = labels[:, -width:].to(logits.device)
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(), targets.reshape(-1),
                                             ignore_index=IGNORE, reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else (targets != IGNORE).sum()
    return loss / count
