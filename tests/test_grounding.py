"""BIGRec's grounding (genrec.evaluate.grounding): every item ranked by the L2 distance of its title's last-token
embedding to the generated text's, items sharing a title ranked as one entry (K distinct titles), the popularity /
collaborative adjustment (1 + a)^(-gamma) on min-max normalised distances, and the free generation it grounds."""

import pandas as pd
import pytest
import torch
from conftest import TITLES, title_model

from genrec.errors import GenrecError
from genrec.evaluate.grounding import (generate_titles, ground_split, grounding_scores, last_token_embeddings,
                                       popularity_prior, rank_titles, title_groups)
from genrec.evaluate.settings import GroundingSettings
from genrec.prompts import ItemText, Template

TEMPLATE = Template(prompt="history: {history}\nnext: ", response='"{title}"\n')


@pytest.fixture(scope="module")
def model_and_tokenizer():
    return title_model(TITLES, TEMPLATE)


def test_items_sharing_a_title_are_one_entry_and_k_titles_are_distinct():
    names, title_of_item = title_groups(TITLES)
    assert len(names) == 6 and title_of_item.tolist() == [0, 1, 2, 3, 4, 2, 5]
    # two rows of item scores (lower is better); item 5 shares item 2's title but scores differently (a prior)
    scores = torch.tensor([[0.9, 0.5, 0.1, 0.7, 0.3, 0.2, 0.8],
                           [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]])
    ranked = rank_titles(scores, title_of_item, k=4)
    assert [[t for t, _, _ in row] for row in ranked] == [[2, 4, 1, 3], [0, 1, 2, 3]]
    assert ranked[0][0] == (2, [2, 5], pytest.approx(0.1))           # the entry holds both items, best first
    assert ranked[1][2][1] == [2, 5]
    for row in ranked:                                               # K distinct titles, every item once
        items = [i for _, group, _ in row for i in group]
        assert len({t for t, _, _ in row}) == 4 and len(items) == len(set(items))
    # masking a history item leaves out its whole title (as banning a shared SID bans its items)
    masked = rank_titles(scores, title_of_item, k=4, banned=[[5], []])
    assert [t for t, _, _ in masked[0]] == [4, 1, 3, 5]
    # fewer titles than K: the list is as long as there are titles to rank
    assert len(rank_titles(scores, title_of_item, k=10, banned=[[0, 1], []])[0]) == 4


def test_distances_and_the_adjustment_follow_bigrec_scripts():
    predicted = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    titles = torch.tensor([[3.0, 4.0], [0.0, 1.0], [6.0, 8.0]])
    title_of_item = torch.tensor([0, 1, 2, 1])
    plain = grounding_scores(predicted, titles, title_of_item)
    torch.testing.assert_close(plain, torch.tensor([[5.0, 1.0, 10.0, 1.0], [0.0, 18 ** 0.5, 5.0, 18 ** 0.5]]))
    # adjust_pda.py: rank = (1 + pop_norm)^(-gamma) * dist_norm, both min-max normalised
    popularity = torch.tensor([10.0, 0.0, 30.0, 20.0])
    adjusted = grounding_scores(predicted, titles, title_of_item, popularity, gamma=2.0)
    dist_norm = torch.tensor([[4 / 9, 0.0, 1.0, 0.0], [0.0, 18 ** 0.5 / 5, 1.0, 18 ** 0.5 / 5]])
    pop_norm = torch.tensor([1 / 3, 0.0, 1.0, 2 / 3])
    torch.testing.assert_close(adjusted, (1 + pop_norm) ** -2.0 * dist_norm)
    # gamma 0 is plain grounding, whatever the prior
    torch.testing.assert_close(grounding_scores(predicted, titles, title_of_item, popularity, gamma=0.0), plain)


def test_popularity_prior_is_each_items_share_of_training_targets():
    train = pd.DataFrame({"target": [0, 0, 2, 3], "history": [[1], [2], [0], [1]]})
    torch.testing.assert_close(popularity_prior(train, 5), torch.tensor([0.5, 0.0, 0.25, 0.25, 0.0]))


def test_a_text_embeds_the_same_alone_and_left_padded_in_a_batch(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    tokenizer.padding_side = "right"            # training's side: embedding must pad on the left, then restore it
    together = last_token_embeddings(model, tokenizer, TITLES, batch_size=7)
    alone = torch.cat([last_token_embeddings(model, tokenizer, [t], batch_size=1) for t in TITLES])
    torch.testing.assert_close(together, alone, atol=1e-4, rtol=1e-4)
    assert tokenizer.padding_side == "right"


def test_generation_is_unwrapped_and_grounding_returns_k_distinct_titles(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    settings = GroundingSettings(num_beams=2, max_new_tokens=12)
    written = generate_titles(model, tokenizer, ['history: "Beaker"\nnext: '] * 2, TEMPLATE, settings)
    assert len(written) == 2 and written[0] == written[1]            # deterministic beam search
    assert not written[0].startswith('"') and not written[0].endswith("\n")
    split = pd.DataFrame({"user_id": [7, 8], "history": [[0, 2], [5]], "target": [3, 2]})
    text = ItemText(sids=[""] * len(TITLES), titles=TITLES, descriptions=[""] * len(TITLES))
    templates = {"title_hist2title": TEMPLATE}
    records = ground_split(model, tokenizer, split, text, templates, settings, batch_size=2, k=4, prompt_history=10,
                           mask_history=True)
    for record in sorted(records, key=lambda r: r["row"]):
        assert len(record["sids"]) == len(set(record["sids"])) == 4 and record["invalid"] == 0
        assert set(record["sids"]) <= set(TITLES) and record["scores"] == sorted(record["scores"], reverse=True)
        history_titles = {TITLES[i] for i in split["history"][record["row"]]}
        assert not history_titles & set(record["sids"])               # masked: no title of the history
        if "Digital Caliper" in record["sids"]:                       # a shared title brings both its items
            assert {2, 5} <= set(record["items"])


def test_grounding_settings_name_the_bad_key():
    with pytest.raises(GenrecError, match="unknown grounding adjustment") as err:
        GroundingSettings(adjustment="popular")
    assert err.value.key == "bigrec.grounding.adjustment"
    with pytest.raises(GenrecError, match="adjustment to scale"):
        GroundingSettings(gamma=1.0)
