"""Our beam search against HF `generate` + SIDConstraint, uniqueness and validity of beams, and the
generation-config leak it must be immune to."""

import numpy as np
import pytest
import torch
from transformers import GenerationConfig

from genrec.evaluate.beam_search import beam_search, generate_beams
from genrec.evaluate.constrained import PAD, SIDTrie
from genrec.models.backbone import BackboneSpec, build_tiny_backbone
from genrec.models.sid_vocab import add_sid_tokens, sid_token_ids, sid_trie
from genrec.tokenize.index import codes_to_index

TEXTS = ["red wire cutter with insulated handle", "blue safety goggles", "lab glass beaker 500 ml",
         "digital caliper stainless", "nitrile gloves box of 100"] * 20


@pytest.fixture(scope="module")
def model_and_index():
    rng = np.random.default_rng(0)
    codes = np.unique(rng.integers(0, 6, size=(90, 3)), axis=0)
    index = codes_to_index(codes)
    spec = BackboneSpec.named("tiny", {"hidden_size": 32, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2,
                                             "intermediate_size": 64, "text_vocab_size": 300})
    model, tokenizer = build_tiny_backbone(spec, TEXTS, seed=0)
    add_sid_tokens(model, tokenizer, sorted({t for sid in index.values() for t in sid}), init="random")
    with torch.no_grad():   # a random model with sharp, distinct preferences per prompt
        model.get_output_embeddings().weight.normal_(0, 2.0)
    model.eval()
    prompts = ["history: " + "".join(index[i][0] + index[i][1] + index[i][2] for i in rng.integers(0, len(index), n))
               + "\nnext:" for n in (1, 4, 2, 7, 3)]
    return model, tokenizer, index, prompts


def test_ours_equals_hf_generate_with_the_logits_processor(model_and_index):
    model, tokenizer, index, prompts = model_and_index
    trie = SIDTrie(sid_token_ids(tokenizer, index))
    ours = beam_search(model, tokenizer, prompts, trie, num_beams=12)
    reference = generate_beams(model, tokenizer, prompts, trie, num_beams=12)
    np.testing.assert_array_equal(ours.leaves, reference.leaves)
    np.testing.assert_allclose(ours.scores, reference.scores, atol=1e-4)


def test_beams_are_unique_and_valid(model_and_index):
    model, tokenizer, index, prompts = model_and_index
    ids = sid_token_ids(tokenizer, index)
    trie = SIDTrie(ids)
    beams = beam_search(model, tokenizer, prompts, trie, num_beams=20)
    assert (beams.leaves >= 0).all()
    real = {tuple(row) for row in ids.tolist()}
    for leaves, tokens, scores in zip(beams.leaves, beams.tokens, beams.scores):
        assert len(set(leaves.tolist())) == 20
        assert all(tuple(t) in real for t in tokens.tolist())
        assert (np.diff(scores) <= 1e-6).all()          # best first
    leaf_of_item = trie.leaf_of_item.numpy()
    for tokens, leaves in zip(beams.tokens, beams.leaves):   # each leaf is the item whose SID was spelled
        items = [int(np.flatnonzero((ids == t).all(axis=1))[0]) for t in tokens]
        assert leaf_of_item[items].tolist() == leaves.tolist()


def test_fewer_items_than_beams_leaves_dead_beams_marked_invalid(model_and_index):
    model, tokenizer, index, prompts = model_and_index
    few = {i: index[i] for i in range(5)}
    beams = beam_search(model, tokenizer, prompts[:2], SIDTrie(sid_token_ids(tokenizer, few)), num_beams=8)
    assert ((beams.leaves >= 0).sum(axis=1) == 5).all() and np.isneginf(beams.scores[:, 5:]).all()


def test_the_checkpoints_generation_config_does_not_leak_in(model_and_index):
    """Sampling, top-k and a repetition penalty in the model's generation config change nothing."""
    model, tokenizer, index, prompts = model_and_index
    trie = SIDTrie(sid_token_ids(tokenizer, index))
    clean = generate_beams(model, tokenizer, prompts, trie, num_beams=10)
    ours_clean = beam_search(model, tokenizer, prompts, trie, num_beams=10)
    saved = model.generation_config
    model.generation_config = GenerationConfig(do_sample=True, top_k=2, temperature=3.0, repetition_penalty=5.0,
                                               num_beams=1, no_repeat_ngram_size=1, length_penalty=-4.0)
    try:
        torch.manual_seed(1)
        leaked = generate_beams(model, tokenizer, prompts, trie, num_beams=10)
        ours = beam_search(model, tokenizer, prompts, trie, num_beams=10)
    finally:
        model.generation_config = saved
    np.testing.assert_array_equal(clean.leaves, leaked.leaves)
    np.testing.assert_array_equal(ours_clean.leaves, ours.leaves)


def test_unconstrained_search_can_leave_the_index(model_and_index):
    """The floor of the decoding benchmark: without the trie, most beams are not SIDs of items."""
    model, tokenizer, index, prompts = model_and_index
    trie = SIDTrie(sid_token_ids(tokenizer, index))
    free = beam_search(model, tokenizer, prompts, None, num_beams=10, levels=3)
    assert free.tokens.shape == (len(prompts), 10, 3)
    assert (trie.walk(torch.from_numpy(free.tokens.reshape(-1, 3))) < 0).any()


@pytest.fixture(scope="module")
def tiger_and_index():
    from genrec.models.tiger import build_tiger

    rng = np.random.default_rng(1)
    index = codes_to_index(np.unique(rng.integers(0, 6, size=(90, 3)), axis=0))
    spec = BackboneSpec.named("tiger", {"kind": "t5", "hidden_size": 32, "num_layers": 2, "num_heads": 4,
                                              "intermediate_size": 64})
    model, tokenizer = build_tiger(spec, sorted({t for sid in index.values() for t in sid}), seed=0)
    with torch.no_grad():
        model.get_output_embeddings().weight.normal_(0, 2.0)
    prompts = [" ".join("".join(index[i]) for i in rng.integers(0, len(index), n)) for n in (1, 4, 2, 7, 3)]
    return model.eval(), tokenizer, index, prompts


def test_tiger_encoder_decoder_search_equals_hf_generate(tiger_and_index):
    model, tokenizer, index, prompts = tiger_and_index
    ids = sid_token_ids(tokenizer, index)
    trie = SIDTrie(ids)
    ours = beam_search(model, tokenizer, prompts, trie, num_beams=12)
    reference = generate_beams(model, tokenizer, prompts, trie, num_beams=12)
    np.testing.assert_array_equal(ours.leaves, reference.leaves)
    np.testing.assert_allclose(ours.scores, reference.scores, atol=1e-4)
    assert (ours.leaves >= 0).all() and all(len(set(row)) == 12 for row in ours.leaves.tolist())
    assert len({tuple(row) for row in ours.leaves.tolist()}) > 1          # the history matters


def test_scores_with_the_responses_end_and_eos_equal_hf_generates(model_and_index):
    """MiniOneRec's beam score: the SID's tokens, then the response's "\\n" and EOS (evaluate.score_eos)."""
    model, tokenizer, index, prompts = model_and_index
    bare, ended = sid_trie(tokenizer, index), sid_trie(tokenizer, index, end="\n")
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
    assert ended.levels == bare.levels + len(newline) + 1
    ours = beam_search(model, tokenizer, prompts, ended, num_beams=12)
    reference = generate_beams(model, tokenizer, prompts, ended, num_beams=12)
    np.testing.assert_array_equal(ours.leaves, reference.leaves)
    np.testing.assert_allclose(ours.scores, reference.scores, atol=1e-4)
    assert (ours.tokens[..., -1] == tokenizer.eos_token_id).all()
    # the end costs every SID something: each one scores below its bare score
    sid_only = beam_search(model, tokenizer, prompts, bare, num_beams=len(index))
    bare_score = {(u, leaf): s for u, (leaves, scores) in enumerate(zip(sid_only.leaves, sid_only.scores))
                  for leaf, s in zip(leaves, scores)}
    leaf_map = dict(zip(ended.leaf_of_item.tolist(), bare.leaf_of_item.tolist()))
    for u, (leaves, scores) in enumerate(zip(ours.leaves, ours.scores)):
        assert all(s < bare_score[(u, leaf_map[leaf])] for leaf, s in zip(leaves, scores))


def variable_length_index(index: dict[int, list[str]], groups: int = 6) -> dict[int, list[str]]:
    """MiniOneRec's collision handling: the members of a colliding group, and only they, get a 4th token."""
    out = {i: list(sid) for i, sid in index.items()}
    n = len(out)
    for g in range(groups):                       # item n + 2g and n + 2g + 1 share item g's SID
        for k in range(2):
            out[n + 2 * g + k] = list(index[g]) + [f"<d_{k}>"]
        out[g] = list(index[g]) + ["<d_2>"]
    return out


def path_log_prob(model, tokenizer, prompt: str, path: np.ndarray) -> float:
    """Teacher-forced log-probability of `path` after `prompt`."""
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    full = torch.tensor([ids + path.tolist()])
    with torch.no_grad():
        logp = torch.log_softmax(model(full).logits[0, len(ids) - 1:-1].float(), dim=-1)
    return float(logp.gather(1, torch.tensor(path)[:, None]).sum())


def test_variable_length_sids_decode_alike_and_only_to_real_items(model_and_index):
    model, tokenizer, index, prompts = model_and_index
    varied = variable_length_index(index)
    add_sid_tokens(model, tokenizer, ["<d_0>", "<d_1>", "<d_2>"], init="random")
    lengths = {len(sid) for sid in varied.values()}
    assert lengths == {3, 4}
    for end in (None, "\n"):
        trie = sid_trie(tokenizer, varied, end=end)
        ours = beam_search(model, tokenizer, prompts, trie, num_beams=16)
        if end is not None:     # paths end in EOS: HF's search finishes them as ours does
            reference = generate_beams(model, tokenizer, prompts, trie, num_beams=16)
            np.testing.assert_array_equal(ours.leaves, reference.leaves)
            np.testing.assert_allclose(ours.scores, reference.scores, atol=1e-4)
        for prompt, tokens, scores in zip(prompts, ours.tokens, ours.scores):   # a score is its path's log-prob
            for path, score in list(zip(tokens, scores))[:4]:
                assert score == pytest.approx(path_log_prob(model, tokenizer, prompt, path[path >= 0]), abs=1e-4)
        assert (ours.leaves >= 0).all()                                    # no invalid generation
        spelled = {tuple(t for t in row if t >= 0) for row in trie.item_paths.tolist()}
        assert all(tuple(t for t in row if t >= 0) in spelled for row in ours.tokens.reshape(-1, trie.levels).tolist())
        decoded_lengths = {len([t for t in row if t >= 0]) for row in ours.tokens.reshape(-1, trie.levels).tolist()}
        assert len(decoded_lengths) == 2                                   # short and long SIDs among the beams
        # a banned SID of any length is never generated, and the beams stay full
        banned = torch.tensor([trie.leaf_of_item[[0, len(index), 7]].tolist()] * len(prompts))
        masked = beam_search(model, tokenizer, prompts, trie, num_beams=16, banned=banned)
        assert (masked.leaves >= 0).all()
        assert not np.isin(masked.leaves, banned.numpy()).any()


def test_a_sid_that_is_a_prefix_of_another_is_refused():
    with pytest.raises(ValueError, match="prefix of another"):
        SIDTrie(np.array([[10, 20, PAD], [10, 20, 30]]))


def test_fewer_beams_than_path_tokens(model_and_index):
    """RL's groups can be narrower than a path is long (4 candidates, SID + "\\n" + EOS = 5 tokens)."""
    model, tokenizer, index, prompts = model_and_index
    trie = sid_trie(tokenizer, index, end="\n")
    assert trie.levels > 3
    ours = beam_search(model, tokenizer, prompts, trie, num_beams=3)
    reference = generate_beams(model, tokenizer, prompts, trie, num_beams=3)
    np.testing.assert_array_equal(ours.leaves, reference.leaves)
    np.testing.assert_allclose(ours.scores, reference.scores, atol=1e-4)
