"""Recommendation by constrained beam search: a prompt per user in, a ranked list of item SIDs out.

`beam_search` is ours: the prompt is encoded and cached once per user (HF `generate` encodes and
caches it once per beam, and copies the whole cache at every step to reorder beams), and each of the
SID's L steps gathers the log-probabilities of the trie's allowed tokens for all (users x beams) rows at once and
keeps the best `num_beams` continuations per user. Beams are distinct paths of the trie, so the
returned SIDs are unique and valid by construction. No generation config is consulted: the beam
width, length and length penalty come from our config only, so nothing a checkpoint's
`generation_config` says (`do_sample`, `top_k`, Qwen's `repetition_penalty`) can leak in.

`generate_beams` is the same search through HF `generate` with our `SIDConstraint` logits processor
and an explicit `GenerationConfig`; it is the reference the tests check ours against, and the path
for constrained sampling.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from transformers import GenerationConfig, LogitsProcessorList, PreTrainedModel, PreTrainedTokenizerBase

from genrec.evaluate.constrained import NONE, PAD, SIDConstraint, SIDTrie


@dataclass
class Beams:
    """The outcome for a batch of users: leaf (distinct SID) per beam, best first, and its score."""

    leaves: np.ndarray   # users x beams; -1 = not a SID of the index (an invalid generation)
    scores: np.ndarray   # users x beams; sum of token log-probabilities / length ** length_penalty
    tokens: np.ndarray   # users x beams x depth generated token ids, `PAD` after a path shorter than the depth


def encode_prompts(tokenizer: PreTrainedTokenizerBase, prompts: list[str], device: torch.device) -> dict:
    tokenizer.padding_side = "left"
    return tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)


@dataclass
class Assistant:
    """D3's text-free assistant (SAI990323/DecodingMatters, code/LogitProcesser.py `CFEnhancedLogitsProcessor`): a
    collaborative model's probability of every item for each prompt (prompts x items). At each step an allowed
    token's assistant probability is the mass of the items under the prefix it extends (+1e-20), normalised over
    the allowed tokens, and a step scores `guidance_scale` x log p_LLM + (1 - guidance_scale) x log p_assistant."""

    item_probs: torch.Tensor
    guidance_scale: float

    def token_logp(self, trie: SIDTrie, depth: int, children: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """rows x width: the assistant's log-probability of each allowed token (`children`: the states they lead to)."""
        mass = trie.mass_of(depth, children, allowed, self.item_probs) + 1e-20
        return torch.log(mass / mass.masked_fill(allowed == NONE, 0.0).sum(dim=1, keepdim=True))


def _top_continuations(logp: torch.Tensor, allowed: torch.Tensor | None, beam_scores: torch.Tensor,
                       users: int, num_beams: int, assisted: tuple[torch.Tensor, float] | None = None,
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Best `num_beams` (origin beam, token, its column among the row's candidates, score) per user over every
    allowed continuation of every beam; `assisted` (the assistant's log-probability of each allowed token, guidance
    scale) mixes D3's assistant in."""
    if allowed is None:                                    # unconstrained: every vocabulary entry
        candidates = logp
        tokens = None
    else:
        candidates = logp.gather(1, allowed.clamp(min=0))
        if assisted is not None:
            assist, scale = assisted
            candidates = scale * candidates + (1 - scale) * assist
        # a complete path's PAD step costs nothing; it keeps its place among the beams (HF keeps finished
        # hypotheses apart: the same ranking where every path ends at the same depth)
        candidates = candidates.masked_fill(allowed == PAD, 0.0).masked_fill(allowed == NONE, float("-inf"))
        tokens = allowed
    candidates = candidates + beam_scores[:, None]
    width = candidates.shape[1]
    rows_per_user = candidates.shape[0] // users
    flat = candidates.view(users, rows_per_user * width)
    k = min(num_beams, flat.shape[1])
    scores, index = flat.topk(k, dim=1)
    origin, column = index // width, index % width
    token = column if tokens is None else tokens.view(users, -1).gather(1, index)
    if k < num_beams:                                      # fewer paths than beams: pad with dead beams
        pad = num_beams - k
        scores = torch.cat([scores, scores.new_full((users, pad), float("-inf"))], dim=1)
        origin = torch.cat([origin, origin[:, :1].expand(users, pad)], dim=1)
        token = torch.cat([token, token[:, :1].expand(users, pad)], dim=1)
        column = torch.cat([column, column[:, :1].expand(users, pad)], dim=1)
    return origin, token, column, scores


class _CausalSteps:
    """Next-token log-probabilities of a decoder-only LM for every beam.

    The KV cache holds each user's prompt once. Step d feeds the beams' last tokens as d-th block of K
    positions of the user's row, and a 4-D attention mask lets each beam see the prompt and the slots of
    its own ancestors only: no per-beam copy of the prompt's keys, and no cache reordering.
    """

    def __init__(self, model: PreTrainedModel, batch: dict, num_beams: int):
        self.model, self.num_beams = model, num_beams
        self.prompt_mask = batch["attention_mask"].bool()
        self.position = self.prompt_mask.long().cumsum(-1) - 1
        self.input_ids = batch["input_ids"]
        self.users = self.input_ids.shape[0]
        self.slots = torch.zeros((self.users, num_beams, 0), dtype=torch.long, device=model.device)
        self.beam = torch.arange(num_beams, device=model.device)

    def first(self) -> torch.Tensor:
        out = self.model(input_ids=self.input_ids, attention_mask=self.prompt_mask.long(),
                         position_ids=self.position.clamp(min=0), use_cache=True, logits_to_keep=1)
        self.cache = out.past_key_values
        return torch.log_softmax(out.logits[:, -1].float(), dim=-1)

    def next(self, generated: torch.Tensor) -> torch.Tensor:
        users, beams, step = self.users, self.num_beams, generated.shape[1]
        self.slots = torch.cat([self.slots, self.beam.expand(users, beams)[..., None]], dim=2)
        own = torch.zeros((users, beams, step * beams), dtype=torch.bool, device=generated.device)
        own.scatter_(2, self.slots + torch.arange(step, device=generated.device) * beams, True)
        width = self.prompt_mask.shape[1]
        mask = torch.cat([self.prompt_mask[:, None, :].expand(users, beams, width), own], dim=2)[:, None]
        last = generated[:, -1].clamp(min=0)      # a finished beam's PAD step: any token, its logits go unread
        out = self.model(input_ids=last.view(users, beams), attention_mask=mask,
                         position_ids=(self.position[:, -1:] + step).expand(users, beams),
                         past_key_values=self.cache, use_cache=True)
        return torch.log_softmax(out.logits.float(), dim=-1).view(users * beams, -1)

    def reorder(self, origin: torch.Tensor) -> None:
        """Beams continue from `origin` (users x beams): they inherit its ancestors' cache slots."""
        self.slots = self.slots.gather(1, origin[..., None].expand(-1, -1, self.slots.shape[2]))


class _Seq2SeqSteps:
    """Next-token log-probabilities of an encoder-decoder (TIGER): the history is encoded once per user;
    the decoder re-reads each beam's few SID tokens at every step (SIDs are 3-4 tokens, no cache needed)."""

    def __init__(self, model: PreTrainedModel, batch: dict, num_beams: int):
        self.model, self.num_beams = model, num_beams
        self.mask = batch["attention_mask"]
        self.encoded = model.get_encoder()(input_ids=batch["input_ids"], attention_mask=self.mask)
        self.start = model.config.decoder_start_token_id

    def _decode(self, generated: torch.Tensor, beams: int) -> torch.Tensor:
        start = torch.full((len(generated), 1), self.start, dtype=torch.long, device=generated.device)
        hidden = self.encoded.last_hidden_state.repeat_interleave(beams, dim=0)
        out = self.model(encoder_outputs=(hidden,), attention_mask=self.mask.repeat_interleave(beams, dim=0),
                         decoder_input_ids=torch.cat([start, generated.clamp(min=0)], dim=1), use_cache=False)
        return torch.log_softmax(out.logits[:, -1].float(), dim=-1)

    def first(self) -> torch.Tensor:
        return self._decode(torch.zeros((len(self.mask), 0), dtype=torch.long, device=self.mask.device), 1)

    def next(self, generated: torch.Tensor) -> torch.Tensor:
        return self._decode(generated, self.num_beams)

    def reorder(self, origin: torch.Tensor) -> None:
        pass


@torch.inference_mode()
def beam_search(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[str], trie: SIDTrie | None,
                num_beams: int, levels: int | None = None, length_penalty: float = 0.0,
                banned: torch.Tensor | None = None, assistant: Assistant | None = None) -> Beams:
    """Beam search of the trie's paths (`levels` tokens when `trie=None`, unconstrained).

    Works for decoder-only LMs and for encoder-decoders (TIGER's T5) alike: only how a step's
    log-probabilities are computed differs. `banned` (prompts x M trie leaves, -1 padded) are SIDs a prompt
    may not end on (its history, when evaluation masks it); the search then fills its beams with others.
    `assistant` mixes D3's collaborative scores into every step (the beams' scores are then the mixed sums).
    """
    if (banned is not None or assistant is not None) and trie is None:
        raise ValueError("banned SIDs and an assistant need the trie (constrained decoding)")

    def options(state: torch.Tensor, depth: int):
        """Allowed tokens, the states they lead to, and the assistant's mixture, of rows in `state` at `depth`."""
        if trie is None:
            return None, None, None
        allowed, children = trie.options(state, depth, banned)
        mix = None if assistant is None else (assistant.token_logp(trie, depth, children, allowed),
                                              assistant.guidance_scale)
        return allowed, children, mix

    def advance(children: torch.Tensor | None, origin: torch.Tensor, column: torch.Tensor) -> torch.Tensor | None:
        """Each new beam's trie state: the child its token leads to from the row it continues."""
        if children is None:
            return None
        per_user = children.shape[0] // users
        rows = origin + (torch.arange(users, device=device) * per_user)[:, None]
        return children[rows.reshape(-1), column.reshape(-1)]

    levels = trie.levels if trie is not None else levels
    device = model.device
    batch = encode_prompts(tokenizer, prompts, device)
    users = batch["input_ids"].shape[0]
    steps = (_Seq2SeqSteps if model.config.is_encoder_decoder else _CausalSteps)(model, batch, num_beams)
    # each row's trie state is kept from step to step (one table lookup a step, not a walk of the whole prefix)
    state = torch.zeros(users, dtype=torch.long, device=device)
    allowed, children, mix = options(state, 0)
    origin, token, column, scores = _top_continuations(steps.first(), allowed, torch.zeros(users, device=device),
                                                       users, num_beams, mix)
    state = advance(children, origin, column)
    generated = token.reshape(-1, 1)                                  # (users x beams) x steps
    for depth in range(1, levels):
        allowed, children, mix = options(state, depth)
        if allowed is not None and bool(((allowed == PAD) | (allowed == NONE)).all()):
            # every beam's path is complete (or dead): the steps left are free PAD steps that change no beam.
            # Titles differ in length by hundreds of tokens (D3's trie), SIDs by at most one.
            break
        origin, token, column, scores = _top_continuations(steps.next(generated), allowed, scores.reshape(-1), users,
                                                           num_beams, mix)
        state = advance(children, origin, column)
        steps.reorder(origin)
        rows = (origin + (torch.arange(users, device=device) * num_beams)[:, None]).reshape(-1)
        generated = torch.cat([generated[rows], token.reshape(-1, 1)], dim=1)
    if generated.shape[1] < levels:
        generated = torch.nn.functional.pad(generated, (0, levels - generated.shape[1]), value=PAD)
    dead = ~torch.isfinite(scores.reshape(-1))
    leaves = trie.walk(generated) if trie is not None else torch.full_like(dead, -1, dtype=torch.long)
    leaves = torch.where(dead, torch.full_like(leaves, -1), leaves)
    lengths = path_lengths(generated, tokenizer.eos_token_id)
    final = (scores.reshape(-1) / lengths ** length_penalty).view(users, num_beams)
    # the beams are searched by their summed log-probability and ranked by the final score, as HF ranks finished
    # hypotheses: the same order unless a length penalty meets paths of different lengths (titles)
    order = final.argsort(dim=1, descending=True, stable=True)
    return Beams(leaves.view(users, num_beams).gather(1, order).cpu().numpy(),
                 final.gather(1, order).cpu().numpy(),
                 generated.view(users, num_beams, levels)[torch.arange(users, device=device)[:, None], order]
                 .cpu().numpy())


def path_lengths(generated: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """Tokens a length penalty counts per row, as HF's beam search does: the path's, less a final EOS."""
    real = generated != PAD
    count = real.sum(dim=1)
    last = generated.gather(1, (count - 1).clamp(min=0)[:, None]).squeeze(1)
    return (count - (last == eos_token_id).long()).clamp(min=1).float()


def generation_config(tokenizer: PreTrainedTokenizerBase, num_beams: int, levels: int, length_penalty: float,
                      decoder_start_token_id: int | None = None, min_levels: int | None = None) -> GenerationConfig:
    """Every setting of a deterministic beam search returning all beams, one path of `min_levels` to `levels`
    tokens long."""
    return GenerationConfig(
        num_beams=num_beams, num_return_sequences=num_beams, do_sample=False, early_stopping=True,
        length_penalty=length_penalty, max_new_tokens=levels, min_new_tokens=levels if min_levels is None else min_levels,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None,
        decoder_start_token_id=decoder_start_token_id,
        temperature=None, top_k=None, top_p=None, repetition_penalty=1.0, no_repeat_ngram_size=0,
        output_scores=True, return_dict_in_generate=True, use_cache=True,
    )


@contextlib.contextmanager
def explicit_generation(model: PreTrainedModel, config: GenerationConfig) -> Iterator[GenerationConfig]:
    """Make `config` the model's generation config for the duration: HF fills every field left unset in the
    config passed to `generate` from the model's own, which is how inherited sampling settings leak in."""
    saved = model.generation_config
    model.generation_config = config
    try:
        yield config
    finally:
        model.generation_config = saved


@torch.inference_mode()
def generate_beams(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[str], trie: SIDTrie,
                   num_beams: int, length_penalty: float = 0.0, processor=None) -> Beams:
    """The same search through HF `generate` + `SIDConstraint` (or another `processor`)."""
    batch = encode_prompts(tokenizer, prompts, model.device)
    # generated tokens follow the prompt (decoder-only) or the decoder start token (encoder-decoder)
    width = 1 if model.config.is_encoder_decoder else batch["input_ids"].shape[1]
    config = generation_config(tokenizer, num_beams, trie.levels, length_penalty,
                               model.config.decoder_start_token_id if model.config.is_encoder_decoder else None,
                               min_levels=trie.min_new_tokens(tokenizer.eos_token_id))
    processor = processor or SIDConstraint(trie, prompt_length=width, eos_token_id=tokenizer.eos_token_id)
    with explicit_generation(model, config):
        out = model.generate(**batch, generation_config=config, logits_processor=LogitsProcessorList([processor]))
    generated = out.sequences[:, width:width + trie.levels]
    if generated.shape[1] < trie.levels:          # every beam ended before the longest path's depth
        generated = torch.nn.functional.pad(generated, (0, trie.levels - generated.shape[1]),
                                            value=tokenizer.pad_token_id)
    leaves = trie.walk(generated)
    tokens = trie.spelled(leaves, generated)
    return Beams(leaves.view(len(prompts), num_beams).cpu().numpy(),
                 out.sequences_scores.float().view(len(prompts), num_beams).cpu().numpy(),
                 tokens.view(len(prompts), num_beams, trie.levels).cpu().numpy())
