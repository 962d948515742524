"""Constrained decoding: the trie admits exactly the index's SIDs, and beam search on a tiny Qwen model
built from config generates only real, distinct SIDs."""

import numpy as np
import pytest
import torch
from conftest import SAMPLE

from genrec.evaluate.constrained import SIDConstraint, SIDTrie
from genrec.tokenize.index import index_to_codes, read_index

SID_OFFSET, CODEBOOK, EOS = 10, 256, 2


def token_ids(codes: np.ndarray) -> np.ndarray:
    """Level l code c -> vocabulary id SID_OFFSET + l * CODEBOOK + c (one block of ids per level)."""
    return SID_OFFSET + np.arange(codes.shape[1]) * CODEBOOK + codes


def test_trie_admits_exactly_the_index():
    codes = index_to_codes(read_index(SAMPLE / "indexes" / "rqvae_native.index.json.gz"))
    sids = token_ids(codes)
    trie = SIDTrie(sids)
    assert trie.sequences() == {tuple(row) for row in sids.tolist()}


def test_allowed_tokens_follow_the_prefix():
    sids = np.array([[10, 20, 30], [10, 21, 31], [11, 20, 32]])
    trie = SIDTrie(sids)
    allowed = lambda prefix: sorted(t for t in trie.allowed(torch.tensor([prefix]).long())[0].tolist() if t >= 0)
    assert allowed([]) == [10, 11]
    assert allowed([10]) == [20, 21]
    assert allowed([11]) == [20]
    assert allowed([10, 21]) == [31]
    assert allowed([12]) == []                      # off the trie: nothing is allowed


def test_processor_masks_everything_else_and_forces_eos_at_the_end():
    trie = SIDTrie(np.array([[10, 20], [11, 21]]))
    processor = SIDConstraint(trie, prompt_length=2, eos_token_id=EOS)
    scores = torch.zeros(2, 30)
    out = processor(torch.tensor([[5, 6], [5, 6]]), scores)
    assert torch.isfinite(out).sum(1).tolist() == [2, 2] and torch.isfinite(out[:, [10, 11]]).all()
    out = processor(torch.tensor([[5, 6, 11, 21]]), torch.zeros(1, 30))
    assert torch.isfinite(out[0]).nonzero().flatten().tolist() == [EOS]


@pytest.fixture(scope="module")
def tiny_qwen():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=SID_OFFSET + 3 * CODEBOOK, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=64, eos_token_id=EOS, pad_token_id=0, bos_token_id=1)
    return Qwen2ForCausalLM(config).eval()


def test_beam_search_generates_only_real_distinct_sids(tiny_qwen):
    rng = np.random.default_rng(0)
    codes = np.unique(rng.integers(0, 8, size=(60, 3)), axis=0)
    sids = token_ids(codes)
    trie = SIDTrie(sids)
    prompts = torch.tensor(rng.integers(3, SID_OFFSET, size=(4, 6)))
    beams = 10
    out = tiny_qwen.generate(prompts, attention_mask=torch.ones_like(prompts),
                             logits_processor=[SIDConstraint(trie, prompts.shape[1], EOS)],
                             num_beams=beams, num_return_sequences=beams, do_sample=False, max_new_tokens=4,
                             length_penalty=0.0, early_stopping=True, eos_token_id=EOS, pad_token_id=0)
    generated = out[:, prompts.shape[1]:prompts.shape[1] + 3].reshape(4, beams, 3)
    valid = {tuple(row) for row in sids.tolist()}
    for user in generated.tolist():
        assert all(tuple(sid) in valid for sid in user)   # only real items
        assert len({tuple(sid) for sid in user}) == beams  # distinct beams
