"""GRPO rollouts that can only name real items: TRL's `rollout_func`, backed by our constrained decoding.

TRL has no hook for a logits constraint, but it accepts a rollout function: it receives the generation batch
of this process (each prompt repeated `num_generations` times, groups contiguous) and returns prompt and
completion token ids, plus extra fields that TRL hands to the reward functions. Ours decodes each group once:

- `beam` (MiniOneRec): constrained beam search with beam width G -- the group is the G best distinct SIDs,
  best first, so candidates are unique and valid by construction;
- `sample`: G constrained samples at `temperature` (valid, not necessarily distinct).

A completion is the path the constrained decoder scores: the SID's tokens only by default, or with the response's
end and EOS under `rl.score_eos` (MiniOneRec's). Not EOS by default: the beam search then never scores it, so lowering a wrong candidate's EOS probability lowers its sequence log-probability (what
GRPO's negative advantages ask for) without changing any ranking -- a free direction the policy can run
away along (docs/rl.md has the measurements). Extra fields per completion: `item` (the
candidate's item id), `rank` (its place in the group) and `group` (all G candidates), which the group-aware
rewards need. Under data parallelism a group may straddle two processes; TRL lays the global generation batch
out as the processes' slices in order, so each process finds a completion's group and rank from its global
position, and both processes decode the group identically (beam search is deterministic; sampling is seeded
per group and step).
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import LogitsProcessorList, PreTrainedModel, PreTrainedTokenizerBase

from genrec.errors import GenrecError
from genrec.rl.settings import ROLLOUTS
from genrec.evaluate.beam_search import beam_search, encode_prompts, explicit_generation, generation_config
from genrec.evaluate.constrained import PAD, SIDConstraint, SIDTrie



class SIDRollout:
    """`rollout_func` for TRL's GRPOTrainer: groups of valid SID candidates by constrained decoding."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, trie: SIDTrie, leaf_items: list[list[int]],
                 num_generations: int, mode: str, temperature: float, seed: int,
                 targets: dict[str, int] | None = None, include_target: bool = False,
                 item_tokens: np.ndarray | None = None):
        if mode not in ROLLOUTS:
            raise GenrecError(f"unknown rollout '{mode}'", key="rl.rollout", fix=f"use one of {list(ROLLOUTS)}")
        if num_generations > trie.n_leaves:
            raise GenrecError(f"num_generations {num_generations} exceeds the {trie.n_leaves} distinct SIDs",
                              key="rl.num_generations")
        self.tokenizer, self.trie, self.leaf_items = tokenizer, trie, leaf_items
        self.num_generations, self.mode, self.temperature, self.seed = num_generations, mode, temperature, seed
        if include_target and (targets is None or item_tokens is None):
            raise GenrecError("include_target needs each prompt's target and the items' SID tokens",
                              key="rl.include_target")
        self.targets, self.include_target, self.item_tokens = targets or {}, include_target, item_tokens

    def __call__(self, prompts: list[str], trainer) -> dict:
        from trl.models.utils import unwrap_model_for_generation

        size = self.num_generations
        position = trainer.accelerator.process_index * len(prompts) + np.arange(len(prompts))
        group_of, rank = position // size, position % size
        groups, first = np.unique(group_of, return_index=True)
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator) as model:
            training = model.training
            model.eval()                                 # no dropout while choosing the candidates
            try:
                with trainer.accelerator.autocast():
                    leaves, tokens = self.candidates(model, [prompts[j] for j in first],
                                                     [(trainer.state.global_step, int(g)) for g in groups])
            finally:
                model.train(training)
        row = np.searchsorted(groups, group_of)
        items = [[self.leaf_items[leaf][0] for leaf in group] for group in leaves.tolist()]
        target = [self.targets.get(prompts[j]) for j in first]
        decoded_hit = [t in group for t, group in zip(target, items)]
        if self.include_target:
            self.add_missed_targets(items, tokens, target)
        prompt_ids = self.tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
        return {
            "prompt_ids": prompt_ids,
            "completion_ids": [[t for t in tokens[r, k].tolist() if t != PAD] for r, k in zip(row, rank)],
            "logprobs": None,                            # TRL recomputes them with the policy
            "item": [items[r][k] for r, k in zip(row, rank)],
            "rank": rank.tolist(),
            "group": [items[r] for r in row],
            "decoded_hit": [float(decoded_hit[r]) for r in row],
        }

    def add_missed_targets(self, items: list[list[int]], tokens: np.ndarray, targets: list[int | None]) -> None:
        """Where the decoder missed the target, it replaces the last candidate (in place), so that every group
        holds exactly one positive (`rl.include_target`)."""
        for group, target in enumerate(targets):
            if target is not None and target not in items[group]:
                items[group][-1] = target
                tokens[group, -1] = self.item_tokens[target]

    def candidates(self, model: PreTrainedModel, prompts: list[str],
                   keys: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """Leaves (groups x G) and SID tokens (groups x G x levels) of each prompt's group."""
        if self.mode == "beam":
            beams = beam_search(model, self.tokenizer, prompts, self.trie, self.num_generations)
            if (beams.leaves < 0).any():
                raise GenrecError("constrained beam search returned fewer valid SIDs than num_generations")
            return beams.leaves, beams.tokens
        leaves, tokens = zip(*(self.sample(model, prompt, key) for prompt, key in zip(prompts, keys)))
        return np.stack(leaves), np.stack(tokens)

    @torch.inference_mode()
    def sample(self, model: PreTrainedModel, prompt: str, key: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """G constrained samples for one prompt, seeded by (step, group): every process draws the same."""
        torch.manual_seed(self.seed + 1_000_003 * key[0] + key[1])
        batch = encode_prompts(self.tokenizer, [prompt], model.device)
        seq2seq = model.config.is_encoder_decoder
        width = 1 if seq2seq else batch["input_ids"].shape[1]
        config = generation_config(self.tokenizer, 1, self.trie.levels, 0.0,
                                   model.config.decoder_start_token_id if seq2seq else None,
                                   min_levels=self.trie.min_new_tokens(self.tokenizer.eos_token_id))
        config.num_beams, config.num_return_sequences = 1, self.num_generations
        config.do_sample, config.temperature, config.early_stopping, config.length_penalty = True, self.temperature, False, 1.0
        processor = SIDConstraint(self.trie, prompt_length=width, eos_token_id=self.tokenizer.eos_token_id)
        with explicit_generation(model, config):
            out = model.generate(**batch, generation_config=config, logits_processor=LogitsProcessorList([processor]))
        generated = out.sequences[:, width:width + self.trie.levels]
        generated = torch.nn.functional.pad(generated, (0, self.trie.levels - generated.shape[1]),
                                            value=self.tokenizer.pad_token_id)
        leaves = self.trie.walk(generated)
        return leaves.cpu().numpy(), self.trie.spelled(leaves, generated).cpu().numpy()
