"""Constrained decoding over Semantic IDs: only SIDs of real items can be generated.

The prefix trie of the index is flattened once into tensors, one table per depth:
`tokens[d][s]` are the vocabulary ids allowed after prefix-state s at depth d (padded with -1) and
`children[d][s]` the states they lead to. At every decoding step the processor walks each beam's
generated tokens through these tables (L lookups, L = SID length) and masks the whole
(batch x beams) x vocab score matrix with one scatter — no Python call per beam.
After the last level only `eos_token_id` is allowed.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import LogitsProcessor


class SIDTrie:
    """Prefix trie of SID token ids (items x levels), as padded per-depth tensors."""

    def __init__(self, sid_token_ids: np.ndarray):
        sids = np.asarray(sid_token_ids, dtype=np.int64)
        if sids.ndim != 2 or len(sids) == 0:
            raise ValueError("sid_token_ids must be a non-empty items x levels array")
        self.levels = sids.shape[1]
        self.tokens: list[torch.Tensor] = []
        self.children: list[torch.Tensor] = []
        state = np.zeros(len(sids), dtype=np.int64)          # every item starts at the root
        n_states = 1
        for depth in range(self.levels):
            # (state, token) edges, sorted; an item's next state is the index of its edge
            edges, next_state = np.unique(np.column_stack([state, sids[:, depth]]), axis=0, return_inverse=True)
            child_of_edge = np.arange(len(edges))
            width = int(np.bincount(edges[:, 0], minlength=n_states).max())
            tokens = np.full((n_states, width), -1, dtype=np.int64)
            children = np.full((n_states, width), -1, dtype=np.int64)
            starts = np.searchsorted(edges[:, 0], np.arange(n_states))
            slot = np.arange(len(edges)) - starts[edges[:, 0]]
            tokens[edges[:, 0], slot] = edges[:, 1]
            children[edges[:, 0], slot] = child_of_edge
            state = next_state.reshape(-1)
            self.tokens.append(torch.from_numpy(tokens))
            self.children.append(torch.from_numpy(children))
            n_states = len(edges)
        # the state after the last level identifies a distinct SID; items sharing a SID share a leaf
        self.leaf_of_item = torch.from_numpy(state)
        self.n_leaves = n_states

    def to(self, device: torch.device | str) -> "SIDTrie":
        self.leaf_of_item = self.leaf_of_item.to(device)
        self.tokens = [t.to(device) for t in self.tokens]
        self.children = [c.to(device) for c in self.children]
        return self

    def walk(self, generated: torch.Tensor) -> torch.Tensor:
        """State of each row after its generated tokens (rows x steps, steps < levels); -1 = off the trie."""
        state = torch.zeros(len(generated), dtype=torch.long, device=generated.device)
        for depth in range(generated.shape[1]):
            valid = state >= 0
            safe = state.clamp(min=0)
            match = self.tokens[depth][safe] == generated[:, depth:depth + 1]
            found = match.any(dim=1) & valid
            child = self.children[depth][safe].gather(1, match.float().argmax(dim=1, keepdim=True)).squeeze(1)
            state = torch.where(found, child, torch.full_like(child, -1))
        return state

    def allowed(self, generated: torch.Tensor) -> torch.Tensor:
        """Allowed next token ids per row (rows x width, -1 padded); empty rows once off the trie."""
        return self.next_states(generated)[0]

    def next_states(self, generated: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Allowed next token ids per row and the state each one leads to (both rows x width, -1 padded);
        after the last level's token that state is the leaf, i.e. the distinct SID."""
        depth = generated.shape[1]
        state = self.walk(generated)
        safe, off = state.clamp(min=0), (state < 0)[:, None]
        return self.tokens[depth][safe].masked_fill(off, -1), self.children[depth][safe].masked_fill(off, -1)

    def allowed_except(self, generated: torch.Tensor, banned: torch.Tensor | None) -> torch.Tensor:
        """`allowed`, less the last-level tokens that would complete a banned leaf of the row's user.

        `banned` is users x M leaf ids (-1 padded); `generated` holds the same number of rows per user."""
        if banned is None or generated.shape[1] != self.levels - 1:
            return self.allowed(generated)
        tokens, leaves = self.next_states(generated)
        per_user = banned.repeat_interleave(len(generated) // len(banned), dim=0)
        hit = (leaves[:, :, None] == per_user[:, None, :]).any(dim=2) & (leaves >= 0)
        return tokens.masked_fill(hit, -1)

    def sequences(self) -> set[tuple[int, ...]]:
        """Every complete token path (for checking that the trie admits exactly the index)."""
        paths = {0: ()}
        for depth in range(self.levels):
            nxt = {}
            for s, prefix in paths.items():
                for token, child in zip(self.tokens[depth][s].tolist(), self.children[depth][s].tolist()):
                    if token >= 0:
                        nxt[child] = (*prefix, token)
            paths = nxt
        return set(paths.values())


class SIDConstraint(LogitsProcessor):
    """Masks scores so that generation after a prompt of `prompt_length` tokens spells a SID, then EOS."""

    def __init__(self, trie: SIDTrie, prompt_length: int, eos_token_id: int):
        self.trie, self.prompt_length, self.eos_token_id = trie, prompt_length, eos_token_id

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        generated = input_ids[:, self.prompt_length:]
        rows, vocab = scores.shape
        if generated.shape[1] >= self.trie.levels:
            allowed = torch.full((rows, 1), self.eos_token_id, dtype=torch.long, device=scores.device)
        else:
            allowed = self.trie.allowed(generated)
        # one extra column absorbs the padding, so every write is 0.0 and the scatter is deterministic
        bias = scores.new_full((rows, vocab + 1), float("-inf"))
        bias.scatter_(1, torch.where(allowed >= 0, allowed, vocab), 0.0)
        return scores + bias[:, :vocab]
