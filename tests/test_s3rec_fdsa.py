"""The attribute-aware baselines: S3-Rec's four pre-training losses on a hand-made case and its instances, its
two stages chained; FDSA's attribute pooling; the attribute table built from item brands and categories."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from genrec.data.attributes import item_attributes
from genrec.errors import GenrecError
from genrec.models.baselines.pretrain import pretrain_s3rec, pretraining_batch, pretraining_sequences
from genrec.models.baselines.registry import build_model
from genrec.models.baselines.settings import BaselineTraining, S3RecPretraining
from genrec.models.baselines.train import train_baseline

ITEMS = pd.DataFrame({"brand": ["x", "", "y", "x", "z"],
                      "categories": [["Top", "a"], ["Top", "b", "a"], ["Top"], [], ["Top", "Top", "c"]]})


def test_attributes_are_the_brand_and_the_categories_below_the_top_level():
    per_item, vocabulary = item_attributes(ITEMS)
    assert vocabulary == ["brand:x", "categories:a", "categories:b", "brand:y", "brand:z", "categories:c"]
    assert per_item == [[1, 2], [3, 2], [4], [1], [5, 6]]
    assert item_attributes(ITEMS, ["categories"])[0] == [[1], [2, 1], [], [], [3]]
    with pytest.raises(GenrecError, match="unknown attribute field"):
        item_attributes(ITEMS, ["price"])
    with pytest.raises(GenrecError, match="item table"):
        build_model("fdsa", {}, n_items=5)


def s3rec(**settings):
    torch.manual_seed(0)
    return build_model("s3rec", {"hidden_size": 4, "num_layers": 1, "num_heads": 1, "intermediate_size": 8,
                                 "dropout": 0.0, "max_length": 6, **settings}, n_items=5, items=ITEMS).eval()


def bce(p: float, y: float) -> float:
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def test_s3recs_pretraining_losses_equal_a_hand_computation():
    m = s3rec()
    M = m.mask_token                                          # shifted ids: item i is i + 1, padding 0
    items = torch.tensor([[0, 1, 2, 3, 5]])                  # padding, then items 0, 1, 2, 4
    masked = torch.tensor([[0, 1, M, 3, M]])                 # item 1 and the last masked
    negatives = torch.tensor([[0, 1, 4, 3, 4]])
    segment = torch.tensor([[0, 1, M, M, 5]])
    positive = torch.tensor([[0, M, 2, 3, M]])
    negative = torch.tensor([[0, M, 4, 1, M]])
    losses = m.pretraining_losses(items, masked, negatives, segment, positive, negative)

    with torch.no_grad():
        h = m.hidden_states(masked, causal=False)[0]
        E, A = m.items.weight, m.attributes.weight
        attributes = {1: {1, 2}, 2: {3, 2}, 3: {4}, 5: {5, 6}}      # shifted item -> its attribute ids
        sig = lambda x: 1 / (1 + math.exp(-float(x)))   # noqa: E731

        def attribute_loss(projection, position):
            v = projection(h[position])
            return sum(bce(sig(v @ A[a]), float(a in attributes[int(items[0, position])])) for a in range(len(A)))

        aap = sum(attribute_loss(m.aap, p) for p in (1, 3))         # unmasked real positions
        map_ = sum(attribute_loss(m.map, p) for p in (2, 4))        # masked positions
        mip = 0.0
        for p in (2, 4):
            v = m.mip(h[p])
            mip += -math.log(sig(sig(v @ E[items[0, p]]) - sig(v @ E[negatives[0, p]])))  # the sigmoid twice
        context = m.sp(m.hidden_states(segment, causal=False)[0, -1])
        pos = m.hidden_states(positive, causal=False)[0, -1]
        neg = m.hidden_states(negative, causal=False)[0, -1]
        sp = -math.log(sig(sig(context @ pos) - sig(context @ neg)))
    for name, expected in (("aap", aap), ("mip", mip), ("map", map_), ("sp", sp)):
        assert losses[name].item() == pytest.approx(expected, rel=1e-5), name


def test_pretraining_losses_are_the_same_with_the_batch_encoded_in_length_groups():
    """`length_groups` only changes how much padding is encoded: rows of different lengths in one batch give the
    same four losses encoded whole or in groups."""
    m = s3rec()
    M = m.mask_token
    batch = dict(items=torch.tensor([[0, 1, 2, 3, 5], [0, 0, 0, 4, 2], [0, 0, 0, 0, 3]]),
                 masked=torch.tensor([[0, 1, M, 3, M], [0, 0, 0, 4, M], [0, 0, 0, 0, M]]),
                 negatives=torch.tensor([[0, 1, 4, 3, 4], [0, 0, 0, 4, 5], [0, 0, 0, 0, 1]]),
                 segment=torch.tensor([[0, 1, M, M, 5], [0, 0, 0, M, 2], [0, 0, 0, 0, M]]),
                 positive_segment=torch.tensor([[0, M, 2, 3, M], [0, 0, 0, 4, M], [0, 0, 0, 0, 3]]),
                 negative_segment=torch.tensor([[0, M, 4, 1, M], [0, 0, 0, 1, M], [0, 0, 0, 0, 2]]))
    whole, grouped = m.pretraining_losses(**batch), m.pretraining_losses(**batch, length_groups=3)
    for name in whole:
        torch.testing.assert_close(grouped[name], whole[name], atol=1e-5, rtol=1e-5)


def test_pretraining_instances_mask_the_last_item_and_cut_matching_segments():
    train = pd.DataFrame({"user_id": [0, 0, 0, 1], "history": [[0], [0, 1], [0, 1, 2], [4]], "target": [1, 2, 3, 0]})
    prefixes = pretraining_sequences(train, max_length=3)
    assert prefixes == [[0], [0, 1], [0, 1, 2], [1, 2, 3], [4], [4, 0]]
    batch = pretraining_batch(prefixes, n_items=5, mask_ratio=0.5, all_items=np.arange(5), rng=np.random.default_rng(0))
    M = 6
    items, masked = batch["items"], batch["masked"]
    assert items.shape == (6, 3) and items[0].tolist() == [0, 0, 1]               # left-padded, shifted
    assert (masked[:, -1] == M).all()                                              # the last item, always
    changed = masked != items
    assert (masked[changed] == M).all()
    is_masked = masked == M
    segmented = 0
    for row in range(6):
        held = set(items[row].tolist()) - {0}
        for position in is_masked[row].nonzero()[:, 0].tolist():
            assert batch["negatives"][row, position].item() not in held
        real = items[row] != 0
        segment, positive = batch["segment"][row][real], batch["positive_segment"][row][real]
        if real.sum() == 1:
            assert segment.tolist() == positive.tolist() == items[row][real].tolist()
            continue
        hidden = (segment == M).nonzero()[:, 0].tolist()           # the masked segment: one run of positions
        assert hidden == list(range(hidden[0], hidden[0] + len(hidden)))
        # a segment is 1 .. len // 2 items long: exactly one for these prefixes of two or three items
        assert int(real.sum()) in (2, 3) and len(hidden) == 1
        outside = [p for p in range(int(real.sum())) if p not in hidden]
        assert positive[outside].tolist() == [M] * len(outside)
        assert positive[hidden].tolist() == items[row][real][hidden].tolist()
        assert batch["negative_segment"][row][real][outside].tolist() == [M] * len(outside)
        segmented += 1
    assert segmented == 4                                           # every prefix of two items or more


def test_s3rec_pretrains_then_fine_tunes_from_its_first_stage():
    train = pd.DataFrame({"user_id": [u for u in range(20) for _ in range(3)],
                          "history": [[(u + i) % 5 for i in range(k)] for u in range(20) for k in (1, 2, 3)],
                          "target": [(u + k) % 5 for u in range(20) for k in (1, 2, 3)]})
    valid = pd.DataFrame({"user_id": list(range(20)), "history": [[(u + i) % 5 for i in range(4)] for u in range(20)],
                          "target": [(u + 4) % 5 for u in range(20)]})
    m = s3rec()
    settings = S3RecPretraining(epochs=8, batch_size=16, learning_rate=1e-2)
    info = pretrain_s3rec(m, train, settings, seed=1)
    assert info["epochs_run"] == 8 and info["instances"] == 80
    total = [sum(getattr(settings, f"{name}_weight") * entry[name] for name in ("aap", "mip", "map", "sp"))
             for entry in info["log_history"]]
    assert total[-1] < 0.8 * total[0]
    tuned, log = train_baseline("s3rec", {"hidden_size": 4, "num_layers": 1, "num_heads": 1, "intermediate_size": 8,
                                          "dropout": 0.0, "max_length": 6}, 5, train, valid,
                                BaselineTraining(max_epochs=1, learning_rate=1e-12, select_metric="hr@3"), False, items=ITEMS, pretrained=m)
    for (key, a), (_, b) in zip(tuned.state_dict().items(), m.state_dict().items()):
        torch.testing.assert_close(a, b, msg=key)                                  # it starts where stage 1 ended


def test_fdsas_features_pool_an_items_attributes_and_change_its_state():
    torch.manual_seed(0)
    m = build_model("fdsa", {"hidden_size": 8, "num_layers": 1, "num_heads": 2, "intermediate_size": 8,
                             "dropout": 0.0, "max_length": 6}, n_items=5, items=ITEMS).eval()
    assert m.item_attributes[1:].tolist() == [[1, 2], [3, 2], [4, 0], [1, 0], [5, 6]]
    features = m.item_features(torch.tensor([[0, 1, 3]]))
    assert features[0, 0].abs().sum() == 0                                         # padding: no features
    torch.testing.assert_close(features[0, 2], m.attributes.weight[4])             # one attribute: itself
    mixed = m.item_features(torch.tensor([[1]]))[0, 0]
    a, b = m.attributes.weight[1], m.attributes.weight[2]
    weight = torch.softmax(m.feature_attention(torch.stack([a, b]))[:, 0], dim=0)
    torch.testing.assert_close(mixed, weight[0] * a + weight[1] * b)
    seq = torch.tensor([[-1, 0, 2, 3]])
    before = m(seq)[:, -1]
    with torch.no_grad():
        m.item_attributes[4] = torch.tensor([6, 0])                                # item 3's attribute changes
    assert not torch.allclose(before, m(seq)[:, -1])
