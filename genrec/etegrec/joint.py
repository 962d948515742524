"""ETEGRec's two components in one module (Liu et al., SIGIR 2025, §3; BishopLiu/ETEGRec @ 58d9736, model.py):

- the item tokenizer, our RQ-VAE (`genrec.tokenize.rqvae.RQVAE`) over frozen collaborative item embeddings
  (a SASRec's), started from a pre-trained one;
- the generative recommender, TIGER's T5 (`genrec.models.tiger`): the encoder reads the history's SID tokens,
  the decoder writes the target's;
- two adapters that tie them: the encoder's mean-pooled states -> the tokenizer's latent space (SIA), the
  decoder's first state -> the item-embedding space (PSA).

Every item's SID is its L tokenizer codes plus TIGER's extra token (its rank among the items sharing those
codes), on every item, so the index keeps one length as the codes change during training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel

from genrec.errors import GenrecError
from genrec.etegrec.losses import (code_distributions, distinct_targets, preference_semantic_alignment,
                                          sequence_item_alignment)
from genrec.tokenize.collisions import group_ids, rank_in_group
from genrec.tokenize.rqvae import RQVAE, RQVAEConfig


def unique_codes(codes: np.ndarray, codebook_size: int) -> np.ndarray:
    """items x L codes -> items x (L + 1): TIGER's extra token, each item's rank (by item id) among the items
    sharing its codes, appended to every item. The extra level has `codebook_size` tokens, as in the released
    code, which stops when a group outgrows it."""
    rank = rank_in_group(group_ids(codes))
    if rank.max(initial=0) >= codebook_size:
        raise GenrecError(f"{int(rank.max()) + 1} items share one code path, more than the {codebook_size} tokens of "
                          "the extra level", key="tokenizers.<name>.codebook_size",
                          fix="pre-train the tokenizer longer, or give it more or larger codebooks")
    return np.column_stack([codes, rank]).astype(np.int64)


def sid_vocabulary(levels: int, codebook_size: int) -> list[str]:
    """Every token a SID can hold (L levels and the extra one, `codebook_size` each): the recommender's
    vocabulary is fixed, whatever codes the tokenizer moves to."""
    from genrec.tokenize.index import codebook_tokens

    return codebook_tokens([codebook_size] * (levels + 1))


@dataclass
class Losses:
    code: torch.Tensor        # the recommender's next-SID cross-entropy
    sia: torch.Tensor         # sequence-item alignment
    psa: torch.Tensor         # preference-semantic alignment
    tokenizer: torch.Tensor   # reconstruction + alpha * RQ loss of the batch's distinct targets


class JointModel(nn.Module):
    """The recommender, the item tokenizer, the item embeddings it reads (frozen) and the two adapters."""

    def __init__(self, recommender: PreTrainedModel, tokenizer: RQVAE, item_embeddings: np.ndarray):
        super().__init__()
        self.recommender = recommender
        self.item_tokenizer = tokenizer
        self.register_buffer("item_embeddings", torch.as_tensor(np.asarray(item_embeddings, dtype=np.float32)))
        width = recommender.config.d_model
        latent = tokenizer.codebooks[0].shape[1]
        # model.py: enc_adapter = MLPLayers([hidden, e_dim]), dec_adapter = MLPLayers([hidden, semantic]): one
        # linear layer each
        self.enc_adapter = nn.Linear(width, latent)
        self.dec_adapter = nn.Linear(width, self.item_embeddings.shape[1])

    def recommender_parameters(self) -> list[nn.Parameter]:
        return [*self.recommender.parameters(), *self.enc_adapter.parameters(), *self.dec_adapter.parameters()]

    def losses(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor,
               targets: torch.Tensor, *, sign: float, temperature: float, commitment: float,
               recommender_grad: bool = True) -> Losses:
        """All four losses of a batch (trainer.py `_train_epoch_rec` / `_train_epoch_id`); the alignment terms
        on the batch's distinct targets. `recommender_grad=False` (a tokenizer epoch) runs the recommender
        without a graph: its parameters are frozen then, so nothing would flow back through it."""
        with torch.set_grad_enabled(recommender_grad and torch.is_grad_enabled()):
            out = self.recommender(input_ids=input_ids, attention_mask=attention_mask, labels=labels,
                                   output_hidden_states=True)
            mask = attention_mask.unsqueeze(-1).to(out.encoder_last_hidden_state.dtype)
            pooled = (out.encoder_last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1)
            sequence_latent = self.enc_adapter(pooled)
            preference = self.dec_adapter(out.decoder_hidden_states[-1][:, 0])
        first = distinct_targets(targets)
        x = self.item_embeddings[targets[first]]
        tokenizer = self.item_tokenizer
        z = tokenizer.encoder(x)
        quantized, _, rq_loss, item_residuals = tokenizer.quantize(z)
        reconstructed = tokenizer.decoder(quantized)
        level_scale = 1.0 / len(tokenizer.codebooks) if tokenizer.cfg.level_loss == "mean" else 1.0
        own = F.mse_loss(reconstructed, x) + commitment * level_scale * rq_loss
        codebooks = list(tokenizer.codebooks)
        _, _, _, sequence_residuals = tokenizer.quantize(sequence_latent[first].float())
        sequence_codes = code_distributions(sequence_residuals, codebooks, sign)
        item_codes = code_distributions(item_residuals, codebooks, sign)
        return Losses(code=out.loss, sia=sequence_item_alignment(sequence_codes, item_codes),
                      psa=preference_semantic_alignment(preference[first].float(), reconstructed, temperature),
                      tokenizer=own)

    @torch.no_grad()
    def item_codes(self) -> np.ndarray:
        """The tokenizer's codes of every item, with the extra token (items x L + 1)."""
        codes, _ = self.item_tokenizer.encode(self.item_embeddings.detach().cpu().float())
        return unique_codes(codes, self.item_tokenizer.cfg.codebook_size)


def tokenizer_from_state(state: dict) -> RQVAE:
    """The pre-trained RQ-VAE a `tokenize` job saved (`genrec.tokenize.rqvae.model_state`)."""
    cfg = RQVAEConfig(**state["config"])
    if cfg.encoder != "mlp":
        raise GenrecError(f"ETEGRec's item tokenizer is an RQ-VAE with an MLP encoder; this one's encoder is "
                          f"{cfg.encoder!r}", key="etegrec.tokenizers", fix="name a tokenizer of method rqvae")
    model = RQVAE(state["in_dim"], cfg)
    model.load_state_dict(state["state_dict"])
    return model
