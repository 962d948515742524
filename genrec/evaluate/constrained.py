"""Constrained decoding over Semantic IDs: only SIDs of real items can be generated.

An item's path is its SID's tokens, optionally followed by a fixed end (MiniOneRec scores the response's "\n"
and EOS too). Paths may differ in length (MiniOneRec's extra token on colliding items only), as long as no
path is a prefix of another. The prefix trie of the paths is flattened once into tensors, one table per depth:
`tokens[d][s]` are the vocabulary ids allowed after prefix-state s at depth d (padded with -1) and
`children[d][s]` the states they lead to. A path shorter than the longest continues with `PAD` edges, which a
search takes at no cost, so every path ends at a distinct state of the last depth: its leaf. At every decoding
step the processor walks each beam's generated tokens through these tables (L lookups) and masks the whole
(batch x beams) x vocab score matrix with one scatter — no Python call per beam.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import LogitsProcessor

NONE, PAD = -1, -2      # table entries: no edge; a finished path's free step to the next depth


class SIDTrie:
    """Prefix trie of item paths (items x depth token ids, `PAD`-padded at the end), as per-depth tensors.

    `sid_lengths` (per item) says how many leading tokens of a path are the SID; the rest is the path's end,
    which `options` lets a banned SID reach no further than its SID's last token."""

    def __init__(self, paths: np.ndarray, sid_lengths: np.ndarray | None = None):
        paths = np.asarray(paths, dtype=np.int64)
        if paths.ndim != 2 or len(paths) == 0:
            raise ValueError("paths must be a non-empty items x depth array")
        lengths = (paths != PAD).sum(axis=1)
        if ((paths == PAD) & (np.arange(paths.shape[1]) < lengths[:, None])).any() or (lengths == 0).any():
            raise ValueError("a path must be non-empty, with PAD only after its last token")
        self.levels = paths.shape[1]
        self.min_levels = int(lengths.min())
        sid_lengths = lengths if sid_lengths is None else np.asarray(sid_lengths, dtype=np.int64)
        self.tokens: list[torch.Tensor] = []
        self.children: list[torch.Tensor] = []
        states: list[np.ndarray] = []                         # each item's state after depth d
        state = np.zeros(len(paths), dtype=np.int64)          # every item starts at the root
        n_states = 1
        for depth in range(self.levels):
            # (state, token) edges, sorted; an item's next state is the index of its edge
            edges, next_state = np.unique(np.column_stack([state, paths[:, depth]]), axis=0, return_inverse=True)
            width = int(np.bincount(edges[:, 0], minlength=n_states).max())
            tokens = np.full((n_states, width), NONE, dtype=np.int64)
            children = np.full((n_states, width), NONE, dtype=np.int64)
            starts = np.searchsorted(edges[:, 0], np.arange(n_states))
            slot = np.arange(len(edges)) - starts[edges[:, 0]]
            tokens[edges[:, 0], slot] = edges[:, 1]
            children[edges[:, 0], slot] = np.arange(len(edges))
            ended = tokens == PAD
            if (ended.any(axis=1) & ((tokens >= 0).any(axis=1))).any():
                raise ValueError("a SID is a prefix of another SID: end every path with EOS (evaluate.score_eos) "
                                 "or give colliding items an extra token on every member")
            state = next_state.reshape(-1)
            states.append(state)
            self.tokens.append(torch.from_numpy(tokens))
            self.children.append(torch.from_numpy(children))
            n_states = len(edges)
        # each item's state after every depth (D3's assistant sums its items' probabilities per state)
        self.item_states = [torch.from_numpy(s) for s in states]
        # the state after the last depth identifies a distinct path; items sharing a SID share a leaf
        self.leaf_of_item = torch.from_numpy(state)
        self.n_leaves = n_states
        # sid_leaf[d][s]: the leaf whose SID the state s reached by d + 1 tokens completes (-1: none)
        self.sid_leaf: list[torch.Tensor] = []
        for depth in range(self.levels):
            table = np.full(int(self.children[depth].max()) + 1, NONE, dtype=np.int64)   # states after depth
            done = sid_lengths == depth + 1
            table[states[depth][done]] = state[done]
            self.sid_leaf.append(torch.from_numpy(table))
        self.completes_at = [bool((t >= 0).any()) for t in self.sid_leaf]
        self.item_paths = torch.from_numpy(paths)
        self.path_of_leaf = torch.full((n_states, self.levels), NONE, dtype=torch.long)
        self.path_of_leaf[self.leaf_of_item] = self.item_paths

    def min_new_tokens(self, eos_token_id: int) -> int:
        """HF's `min_new_tokens` for these paths: EOS may come right after the shortest path (or end it)."""
        ends_in_eos = bool((self.item_paths.gather(1, ((self.item_paths != PAD).sum(1) - 1)[:, None]) ==
                            eos_token_id).all())
        return self.min_levels - int(ends_in_eos)

    def spelled(self, leaves: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
        """Each row's path where it reached a leaf (`PAD` after a short one: what HF generated past a path's end is
        padding), its generated tokens where it did not."""
        return torch.where((leaves >= 0)[:, None], self.path_of_leaf[leaves.clamp(min=0)], generated)

    def to(self, device: torch.device | str) -> "SIDTrie":
        self.leaf_of_item = self.leaf_of_item.to(device)
        self.item_states = [s.to(device) for s in self.item_states]
        self.tokens = [t.to(device) for t in self.tokens]
        self.children = [c.to(device) for c in self.children]
        self.sid_leaf = [t.to(device) for t in self.sid_leaf]
        self.path_of_leaf = self.path_of_leaf.to(device)
        return self

    def walk(self, generated: torch.Tensor) -> torch.Tensor:
        """State of each row after its generated tokens (rows x steps, steps <= depth); -1 = off the trie."""
        state = torch.zeros(len(generated), dtype=torch.long, device=generated.device)
        for depth in range(generated.shape[1]):
            valid = state >= 0
            safe = state.clamp(min=0)
            options = self.tokens[depth][safe]
            match = options == generated[:, depth:depth + 1]
            finished = (options == PAD).any(dim=1, keepdim=True)     # whatever follows a complete path is padding
            match = torch.where(finished, options == PAD, match)
            found = match.any(dim=1) & valid
            child = self.children[depth][safe].gather(1, match.float().argmax(dim=1, keepdim=True)).squeeze(1)
            state = torch.where(found, child, torch.full_like(child, -1))
        return state

    def allowed(self, generated: torch.Tensor) -> torch.Tensor:
        """Allowed next token ids per row (rows x width, -1 padded; `PAD` once the row's path is complete);
        empty rows once off the trie."""
        return self.next_states(generated)[0]

    def next_states(self, generated: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Allowed next token ids per row and the state each one leads to (both rows x width, -1 padded);
        after the last depth's token that state is the leaf, i.e. the distinct path."""
        depth = generated.shape[1]
        state = self.walk(generated)
        safe, off = state.clamp(min=0), (state < 0)[:, None]
        return self.tokens[depth][safe].masked_fill(off, NONE), self.children[depth][safe].masked_fill(off, NONE)

    def mass_of(self, depth: int, children: torch.Tensor, allowed: torch.Tensor, item_probs: torch.Tensor) -> torch.Tensor:
        """rows x width: the summed probability (`item_probs`, users x items, the rows being users x beams in order)
        of the items under each allowed token's child state at `depth` (`children`, from `options`); 0 where none is."""
        children = children.masked_fill(allowed == NONE, NONE)
        states = int(self.children[depth].max()) + 1
        users = len(item_probs)
        mass = item_probs.new_zeros((users, states)).scatter_add_(1, self.item_states[depth].expand(users, -1), item_probs)
        mass = mass.repeat_interleave(len(children) // users, dim=0).gather(1, children.clamp(min=0))
        return mass.masked_fill(children < 0, 0.0)

    def options(self, state: torch.Tensor, depth: int, banned: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """The allowed next tokens of rows in prefix-state `state` at `depth` (-1: off the trie) and the states they
        lead to, less the tokens that would complete a banned SID of the row's user: one lookup, where `walk`
        re-reads the whole prefix. `banned` is users x M leaf ids (-1 padded), the rows users x beams in order."""
        safe, off = state.clamp(min=0), (state < 0)[:, None]
        tokens = self.tokens[depth][safe].masked_fill(off, NONE)
        children = self.children[depth][safe].masked_fill(off, NONE)
        if banned is not None and self.completes_at[depth]:
            leaves = self.sid_leaf[depth][children.clamp(min=0)].masked_fill(children < 0, NONE)
            per_user = banned.repeat_interleave(len(state) // len(banned), dim=0)
            hit = (leaves[:, :, None] == per_user[:, None, :]).any(dim=2) & (leaves >= 0)
            tokens = tokens.masked_fill(hit, NONE)
        return tokens, children

    def sequences(self) -> set[tuple[int, ...]]:
        """Every complete path, without its `PAD` steps (for checking that the trie admits exactly the index)."""
        paths = {0: ()}
        for depth in range(self.levels):
            nxt = {}
            for s, prefix in paths.items():
                for token, child in zip(self.tokens[depth][s].tolist(), self.children[depth][s].tolist()):
                    if token != NONE:
                        nxt[child] = (*prefix, token) if token != PAD else prefix
            paths = nxt
        return set(paths.values())


class SIDConstraint(LogitsProcessor):
    """Masks scores so that generation after a prompt of `prompt_length` tokens spells a path of the trie, then
    EOS (a path that already ends in EOS is finished by HF's search there)."""

    def __init__(self, trie: SIDTrie, prompt_length: int, eos_token_id: int):
        self.trie, self.prompt_length, self.eos_token_id = trie, prompt_length, eos_token_id

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        generated = input_ids[:, self.prompt_length:]
        rows, vocab = scores.shape
        if generated.shape[1] >= self.trie.levels:
            allowed = torch.full((rows, 1), self.eos_token_id, dtype=torch.long, device=scores.device)
        else:
            allowed = self.trie.allowed(generated)
            allowed = torch.where(allowed == PAD, self.eos_token_id, allowed)     # a complete path: EOS
        # one extra column absorbs the padding, so every write is 0.0 and the scatter is deterministic
        bias = scores.new_full((rows, vocab + 1), float("-inf"))
        bias.scatter_(1, torch.where(allowed >= 0, allowed, vocab), 0.0)
        return scores + bias[:, :vocab]
