"""D3's decoding: a beam search constrained to the items' titles (genrec.evaluate.predict.title_trie) returns only
real titles, ranks them by the summed log-probability of the whole response and EOS (no length normalisation), and
ranks items sharing a title as one entry; the exhaustive search it approximates is computed by teacher forcing."""

import numpy as np
import pytest
import torch
from conftest import TITLES, title_model

from genrec.evaluate.beam_search import Assistant, beam_search
from genrec.evaluate.constrained import PAD
from genrec.evaluate.predict import title_trie, trie_groups
from genrec.prompts import Template

TEMPLATE = Template(prompt="history: {history}\nnext: ", response='"{title}"\n')


@pytest.fixture(scope="module")
def model_and_tokenizer():
    return title_model(TITLES, TEMPLATE, output_scale=2.0)      # a random model with sharp preferences


def response_logprob(model, tokenizer, prompt: str, title: str) -> float:
    """log p(response + EOS | prompt), summed over its tokens: D3's score of a title."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer = tokenizer(TEMPLATE.title_response(title), add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = torch.tensor([prompt_ids + answer])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
    return float(sum(logp[len(prompt_ids) - 1 + i, token] for i, token in enumerate(answer)))


def test_title_beams_are_real_titles_ranked_by_their_summed_log_probability(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    trie = title_trie(tokenizer, TITLES, TEMPLATE)
    groups = trie_groups(trie)
    assert sorted(map(tuple, groups)) == [(0,), (1,), (2, 5), (3,), (4,), (6,)]    # a shared title: one leaf
    prompts = ['history: "Beaker", "Wire Cutter"\nnext: ', 'history: "Safety Goggles"\nnext: ']
    distinct = len(groups)
    beams = beam_search(model, tokenizer, prompts, trie, num_beams=distinct, length_penalty=0.0)
    for prompt, leaves, scores, tokens in zip(prompts, beams.leaves, beams.scores, beams.tokens):
        assert (leaves >= 0).all() and len(set(leaves.tolist())) == distinct     # every title once, none invented
        for leaf, path in zip(leaves, tokens):
            spelled = tokenizer.decode([t for t in path if t != PAD], skip_special_tokens=False)
            assert spelled == TEMPLATE.title_response(TITLES[groups[leaf][0]]) + tokenizer.eos_token
        exact = [response_logprob(model, tokenizer, prompt, TITLES[groups[leaf][0]]) for leaf in leaves]
        np.testing.assert_allclose(scores, exact, atol=1e-3)                    # summed, not length-normalised
        assert (np.diff(scores) <= 1e-6).all()
    # with all beams, the search is exhaustive: its order is the exact ranking of the titles
    exact_all = sorted((response_logprob(model, tokenizer, prompts[0], TITLES[g[0]]), leaf)
                       for leaf, g in enumerate(groups))[::-1]
    assert beams.leaves[0].tolist() == [leaf for _, leaf in exact_all]


def test_length_normalisation_is_what_d3_removes(model_and_tokenizer):
    """BIGRec's default (HF length_penalty 1) divides by the path's length; D3's 0 keeps the sum, so a long title
    is not favoured for its many near-certain tokens."""
    model, tokenizer = model_and_tokenizer
    trie = title_trie(tokenizer, TITLES, TEMPLATE)
    prompt = ['history: "Digital Caliper"\nnext: ']
    summed = beam_search(model, tokenizer, prompt, trie, num_beams=6, length_penalty=0.0)
    normalised = beam_search(model, tokenizer, prompt, trie, num_beams=6, length_penalty=1.0)
    lengths = (normalised.tokens[0] != PAD).sum(axis=1) - 1          # HF's length: the path less its EOS
    exact = {int(leaf): s for leaf, s in zip(summed.leaves[0], summed.scores[0])}
    np.testing.assert_allclose(normalised.scores[0], [exact[int(leaf)] / n for leaf, n in
                                                      zip(normalised.leaves[0], lengths)], atol=1e-4)
    assert (np.diff(normalised.scores[0]) <= 1e-6).all()               # ranked by the normalised score
    assert normalised.leaves[0].tolist() != summed.leaves[0].tolist()   # which reorders titles of unequal length


def test_the_assistant_mixes_each_titles_collaborative_mass_into_its_score(model_and_tokenizer):
    """D3's assistant: a step's score is g log p_LLM + (1 - g) log p_CF(token), p_CF(token) the collaborative mass
    of the items under the prefix, normalised over the allowed tokens. Over a whole path the assistant's terms
    telescope to log (mass of the path's items / all items' mass), so an exhaustive search gives each title
    g x its LLM log-probability + (1 - g) x log of its items' total probability."""
    model, tokenizer = model_and_tokenizer
    trie = title_trie(tokenizer, TITLES, TEMPLATE)
    groups = trie_groups(trie)
    prompts = ['history: "Beaker", "Wire Cutter"\nnext: ', 'history: "Safety Goggles"\nnext: ']
    probs = torch.tensor([[0.05, 0.4, 0.1, 0.06, 0.19, 0.1, 0.1],         # per prompt, over the 7 items (no ties)
                          [0.3, 0.01, 0.01, 0.5, 0.08, 0.05, 0.05]])
    plain = beam_search(model, tokenizer, prompts, trie, num_beams=len(groups))
    same = beam_search(model, tokenizer, prompts, trie, num_beams=len(groups), assistant=Assistant(probs, 1.0))
    np.testing.assert_array_equal(same.leaves, plain.leaves)              # g = 1: the LLM alone (evaluate2.sh)
    for scale in (0.0, 0.6):
        mixed = beam_search(model, tokenizer, prompts, trie, num_beams=len(groups), assistant=Assistant(probs, scale))
        for user, prompt in enumerate(prompts):
            expected = {leaf: scale * response_logprob(model, tokenizer, prompt, TITLES[g[0]])
                        + (1 - scale) * float(torch.log(probs[user, g].sum())) for leaf, g in enumerate(groups)}
            np.testing.assert_allclose(mixed.scores[user], [expected[leaf] for leaf in mixed.leaves[user]], atol=1e-3)
            assert mixed.leaves[user].tolist() == sorted(expected, key=expected.get, reverse=True)
    # g = 0 ranks by the collaborative model alone: the shared title (items 2 and 5) sums its items' mass
    only_cf = beam_search(model, tokenizer, prompts[:1], trie, num_beams=3, assistant=Assistant(probs[:1], 0.0))
    assert [groups[leaf] for leaf in only_cf.leaves[0]] == [[1], [2, 5], [4]]
