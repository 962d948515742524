"""Sequential baselines (SASRec, GRU4Rec, Caser, HGN, FMLP-Rec, BERT4Rec): shapes, no future leakage, padding
invariance, training lowering the loss, early stopping keeping the best model, save/load; MostPop's ranking and
metrics on a hand-made split; the CLI's predictions, metrics and item-embedding artifacts."""

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from genrec.errors import GenrecError
from genrec.evaluate.scoring import item_ranking_records, score
from genrec.models.baselines.mostpop import most_popular, most_popular_per_row
from genrec.models.baselines.registry import SEQUENTIAL, build_model, load_model
from genrec.models.baselines.sequential import left_pad, rank_all_items, training_sequences, trim_padding
from genrec.models.baselines.hstu import time_buckets
from genrec.models.baselines.train import BaselineTraining, rank_split, train_sequential

N_ITEMS = 30
SMALL = {"sasrec": {"hidden_size": 16, "num_layers": 2, "num_heads": 2},
         "gru4rec": {"hidden_size": 16},
         "caser": {"hidden_size": 16, "window": 3, "horizontal_filters": 4, "vertical_filters": 2},
         "hgn": {"hidden_size": 16, "window": 3, "user_embedding": False},
         "fmlprec": {"hidden_size": 16},
         "bert4rec": {"hidden_size": 16, "intermediate_size": 32},
         "fdsa": {"hidden_size": 16, "intermediate_size": 32},
         "s3rec": {"hidden_size": 16, "intermediate_size": 32},
         "hstu": {"hidden_size": 16, "num_layers": 2, "num_heads": 2, "head_dim": 8}}
CAUSAL = [name for name, (cls, _) in SEQUENTIAL.items() if cls.causal]
# an item table for the models that read attributes: item i has brand i % 4 (none for i % 4 == 3) and categories
ITEMS = pd.DataFrame({"brand": [f"b{i % 4}" if i % 4 != 3 else "" for i in range(N_ITEMS)],
                      "categories": [["All", f"c{i % 3}"] + ([f"d{i % 5}"] if i % 2 else []) for i in range(N_ITEMS)]})


def model(name: str, **settings):
    torch.manual_seed(0)
    config = SEQUENTIAL[name][1]
    dropout = {"dropout": 0.0} if "dropout" in config.__dataclass_fields__ else {}
    return build_model(name, {**SMALL[name], **dropout, "max_length": 8, **settings}, N_ITEMS, n_users=4,
                       items=ITEMS).eval()


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_forward_shapes(name):
    m = model(name)
    states = m(torch.randint(-1, N_ITEMS, (3, 8)))
    assert states.shape == (3, 8, 16) and m.scores(states).shape == (3, 8, N_ITEMS)
    assert m.item_embeddings().shape == (N_ITEMS, 16)


@pytest.mark.parametrize("name", CAUSAL)
def test_changing_a_later_item_leaves_earlier_positions_unchanged(name):
    m = model(name)
    seq = torch.tensor([[-1, -1, 3, 7, 9, 2, 5, 11]])
    changed = seq.clone()
    changed[0, 5] = 20
    a, b = m(seq), m(changed)
    torch.testing.assert_close(a[:, :5], b[:, :5])
    assert not torch.allclose(a[:, 5:], b[:, 5:])


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_a_historys_state_does_not_depend_on_its_padding(name):
    m = model(name)
    short, padded = torch.tensor([[3, 7, 9]]), torch.tensor([[-1, -1, -1, 3, 7, 9]])
    torch.testing.assert_close(m(short)[:, -1], m(padded)[:, -1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_encoding_a_batch_in_length_groups_gives_the_same_loss_and_ranking(name):
    """`length_groups` trims each group of similar-length rows to its own width: the loss, the gradients and the
    ranking are those of the whole batch encoded at once (rows of lengths 1 to 6 in one batch of width 6)."""
    m = model(name)
    seq = left_pad([[1, 2, 3, 4, 5, 6], [7, 8], [9], [10, 11, 12, 13], [14, 15, 16], [17, 18, 19, 20, 21]], 6)
    for loss in ("softmax", "sampled_bce"):
        whole = m.training_loss(seq, loss, generator=torch.Generator().manual_seed(3))
        grouped = m.training_loss(seq, loss, generator=torch.Generator().manual_seed(3), length_groups=3)
        torch.testing.assert_close(grouped, whole, atol=1e-5, rtol=1e-5)
    whole_grad = torch.autograd.grad(m.training_loss(seq, "softmax", generator=torch.Generator().manual_seed(5)),
                                     m.items.weight)[0]
    grouped_grad = torch.autograd.grad(m.training_loss(seq, "softmax", generator=torch.Generator().manual_seed(5),
                                                       length_groups=4), m.items.weight)[0]
    torch.testing.assert_close(grouped_grad, whole_grad, atol=1e-5, rtol=1e-4)
    histories = [[1, 2, 3, 4, 5, 6, 7], [8], [9, 10], [11, 12, 13]]
    for whole, grouped in zip(rank_all_items(m, histories, 5, 8, True, length_groups=1),
                              rank_all_items(m, histories, 5, 8, True, length_groups=3)):
        torch.testing.assert_close(grouped, whole, atol=1e-5, rtol=1e-5)


def test_fmlprecs_filters_mix_the_whole_input_so_it_trains_on_prefixes_and_sees_only_the_history():
    """The FFT filter is a circular convolution: an earlier position reads later items, which is why FMLP-Rec
    is not causal. Trained on prefixes, the state scored against a target is computed from the items before it
    only; padding (zeroed before every filter) changes nothing, whatever its amount."""
    m = model("fmlprec")
    seq = torch.tensor([[-1, -1, 3, 7, 9, 2, 5, 11]])
    changed = seq.clone()
    changed[0, 6] = 20
    assert not torch.allclose(m(seq)[:, :6], m(changed)[:, :6])        # earlier positions see a later item
    assert not m.causal
    prefix = torch.tensor([[-1, -1, -1, 3, 7, 9, 2]])                  # history 3 7 9, target 2
    inputs, targets = m.inputs_and_targets(prefix)
    assert inputs.tolist() == [[-1, -1, -1, 3, 7, 9]] and targets.tolist() == [[-1, -1, -1, -1, -1, 2]]
    seen = []
    m.encode = lambda x, users=None, times=None, encode=m.encode: seen.append(x) or encode(x, users, times)
    other_target = prefix.clone()
    other_target[0, -1] = 4
    for loss in ("softmax", "sampled_bce"):
        m.training_loss(prefix, loss, generator=torch.Generator().manual_seed(0))
        m.training_loss(other_target, loss, generator=torch.Generator().manual_seed(0))
    assert all(x.tolist() == [[-1, -1, -1, 3, 7, 9]] for x in seen)      # the target never reaches the filter
    for padding in range(0, 5):
        history = torch.tensor([[-1] * padding + [3, 7, 9]])
        torch.testing.assert_close(m(history)[:, -1], m(torch.tensor([[3, 7, 9]]))[:, -1])


def test_training_prefixes_give_every_target_its_history_up_to_the_cap():
    from genrec.models.baselines.sequential import training_prefixes

    train = pd.DataFrame({"user_id": [0, 0, 0, 1], "history": [[4], [4, 7], [4, 7, 2], [9]], "target": [7, 2, 5, 3]})
    assert training_prefixes(train, max_length=50)[:2] == ([[4, 7], [4, 7, 2], [4, 7, 2, 5], [9, 3]], [0, 0, 0, 1])
    assert training_prefixes(train, max_length=2)[0] == [[4, 7], [4, 7, 2], [7, 2, 5], [9, 3]]


def test_bert4recs_cloze_task_hides_every_target_behind_the_mask_token():
    """Every position the cloze loss predicts is [mask] in the encoder's input, every other position is the
    sequence's own item; at ranking time a [mask] follows the history, the oldest item giving way when full."""
    m = model("bert4rec", mask_ratio=0.5, last_item_ratio=0.0)
    seq = torch.tensor([[-1, -1, 3, 7, 9, 2, 5, 11, 4], [1, 2, 3, 4, 5, 6, 7, 8, 9]])
    seen = []
    hidden = m.hidden_states
    m.hidden_states = lambda tokens: seen.append(tokens) or hidden(tokens)
    scored = []
    scores = m.scores
    m.scores = lambda states: scored.append(len(states)) or scores(states)
    for seed in range(5):
        m.training_loss(seq, "softmax", generator=torch.Generator().manual_seed(seed))
    window = seq[:, -8:] + 1                                            # its latest max_length items, shifted
    for tokens, n_scored in zip(seen, scored):
        masked = tokens == m.mask_token
        assert masked.sum() == n_scored > 0 and masked.any(dim=1).all()
        assert (tokens[~masked] == window[~masked]).all()               # nothing else changed
        assert not (masked & (window == 0)).any()                       # padding is never a target
    m.config.last_item_ratio = 1.0
    seen.clear()
    m.training_loss(seq, "sampled_bce", generator=torch.Generator().manual_seed(0))
    assert (seen[0] == m.mask_token).nonzero().tolist() == [[0, 7], [1, 7]]
    seen.clear()
    m(torch.tensor([[-1, -1, -1, -1, -1, -1, 3, 7], [1, 2, 3, 4, 5, 6, 7, 8]]))
    assert seen[0][:, -1].eq(m.mask_token).all() and seen[0][1, :-1].tolist() == [3, 4, 5, 6, 7, 8, 9]


def test_hgns_user_embedding_and_item_item_product():
    """With the user embedding on, the state depends on the user (unseen users share a row); the score of an
    item is the state against HGN's own target table plus the item's bias."""
    m = model("hgn", user_embedding=True)
    seq = torch.tensor([[3, 7, 9], [3, 7, 9]])
    a = m(seq, torch.tensor([0, 1]))
    assert not torch.allclose(a[0], a[1])
    torch.testing.assert_close(m(seq[:1], torch.tensor([99])), m(seq[:1], torch.tensor([-1])))
    with pytest.raises(ValueError, match="user ids"):
        m(seq)
    with torch.no_grad():
        m.bias.weight.normal_()
    states = a[:, -1]
    torch.testing.assert_close(m.scores(states)[:, 5], states @ m.targets.weight[6] + m.bias.weight[6, 0])
    # without gates the state is the window's plain sum: the gated mean adds to it, never replaces it
    plain = model("hgn")
    x = plain.items(torch.tensor([[4, 8, 10]]))
    assert not torch.allclose(plain(seq[:1])[:, -1], x.sum(1))


def test_hgns_released_recipe_trains_each_state_on_its_next_T_items_by_bpr_and_can_freeze_the_gates():
    """`targets` = T pairs each position with its next T items (none past the sequence's end), each against its
    own sampled negative, under BPR's -log sigmoid(p - n); `frozen_instance_gates` keeps the gates' draw."""
    from genrec.models.baselines.sequential import sample_negatives, sampled_loss

    positive, negative = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 0.0])
    torch.testing.assert_close(sampled_loss(positive, negative, "bpr"),
                               -torch.log(torch.sigmoid(positive - negative)).mean())
    torch.testing.assert_close(sampled_loss(positive, negative, "sampled_bce"),
                               -(torch.log(torch.sigmoid(positive)) + torch.log(1 - torch.sigmoid(negative))).mean())
    m = model("hgn", targets=3)
    seq = torch.tensor([[-1, -1, 3, 7, 9, 11], [1, 2, 3, 4, 5, 6]])
    loss = m.training_loss(seq, "bpr", generator=torch.Generator().manual_seed(4))
    # by hand: position t (a real input) scores items t+1 .. t+3, each against its draw for that step ahead
    generator = torch.Generator().manual_seed(4)
    draws = [sample_negatives(seq, N_ITEMS, generator)[:, 1:] for _ in range(3)]
    states = m(seq[:, :-1])
    pairs = [(b, t, ahead) for b in range(2) for ahead in range(3) for t in range(5)
             if seq[b, t] >= 0 and t + 1 + ahead < 6]
    assert len(pairs) == 3 + 2 + 1 + 5 + 4 + 3
    expected = []
    for ahead in range(3):
        for b in range(2):
            for t in range(5):
                if (b, t, ahead) in pairs:
                    p = m.target_scores(states[b, t], seq[b, t + 1 + ahead])
                    n = m.target_scores(states[b, t], draws[ahead][b, t])
                    expected.append(-torch.log(torch.sigmoid(p - n)))
    torch.testing.assert_close(loss, torch.stack(expected).mean())
    # T = 1 under BCE is the plain next-item loss every causal model trains with
    one = model("hgn")
    torch.testing.assert_close(one.training_loss(seq, "sampled_bce", generator=torch.Generator().manual_seed(1)),
                               model("hgn", targets=1).training_loss(seq, "sampled_bce",
                                                                     generator=torch.Generator().manual_seed(1)))

    frozen = model("hgn", user_embedding=True, frozen_instance_gates=True).train()
    names = {name for name, _ in frozen.named_parameters()}
    assert "instance_gate_item" not in names and "instance_gate_user" not in names
    assert {"instance_gate_item", "instance_gate_user"} <= set(frozen.state_dict())
    before = frozen.instance_gate_item.clone()
    optimiser = torch.optim.Adam(frozen.parameters(), lr=0.1)
    frozen.training_loss(seq, "bpr", users=torch.tensor([0, 1])).backward()
    optimiser.step()
    torch.testing.assert_close(frozen.instance_gate_item, before)
    assert "instance_gate_item" in {name for name, _ in model("hgn").named_parameters()}


def timed_hstu(**settings):
    """HSTU on a dataset with real timestamps: its time bias is on (large, so that it shows)."""
    torch.manual_seed(0)
    m = build_model("hstu", {**SMALL["hstu"], "dropout": 0.0, "max_length": 8, "time_buckets": 128, **settings},
                    N_ITEMS, has_timestamps=True).eval()
    with torch.no_grad():
        for unit in m.units:
            unit.time_bias.normal_()
    return m


@pytest.mark.parametrize("timed", [False, True])
def test_hstus_unit_is_pointwise_silu_attention_with_a_relative_bias_and_scores_by_cosine(timed):
    """One unit by hand: U, V, Q, K = SiLU(LN(x) W); A[i, j] = SiLU(q_i . k_j + rab[i, j]) / max_length for the
    real j <= i (no softmax: a row need not sum to 1); out = x + W_o(U * LN(A V)); rab[i, j] = the position bias
    of j - i, plus (with timestamps) the time bias of the bucket of i's next time minus j's. The model scores
    items by the cosine of the L2-normalised state over the temperature."""
    m = timed_hstu() if timed else model("hstu")
    unit = m.units[0]
    with torch.no_grad():
        unit.position_bias.normal_()
    x = torch.randn(1, 4, 16)
    real = torch.tensor([[False, True, True, True]])
    buckets = torch.tensor([[[i * 4 + j for j in range(4)] for i in range(4)]]) if timed else None
    out = unit(x, real, buckets)
    with torch.no_grad():
        u, v, q, k = torch.nn.functional.silu(torch.nn.functional.layer_norm(x[0], (16,), eps=1e-6) @ unit.uvqk).split(16, -1)
        expected = []
        for i in range(4):
            heads = []
            for h in range(2):
                s = slice(8 * h, 8 * h + 8)
                row = torch.zeros(8)
                for j in range(1, i + 1):          # key 0 is padding
                    bias = unit.position_bias[8 - 1 + j - i] + (unit.time_bias[i * 4 + j] if timed else 0)
                    a = torch.nn.functional.silu(q[i, s] @ k[j, s] + bias) / 8
                    row += a * v[j, s]
                heads.append(row)
            attended = torch.cat(heads)
            expected.append(x[0, i] + unit.out(u[i] * torch.nn.functional.layer_norm(attended, (16,), eps=1e-6)))
    torch.testing.assert_close(out[0], torch.stack(expected), atol=1e-5, rtol=1e-5)
    states = m(torch.tensor([[3, 7, 9]]), times=torch.tensor([[1, 2, 3, 4]]) if timed else None)[0]
    torch.testing.assert_close(states.norm(dim=-1), torch.ones(3))
    items = torch.nn.functional.normalize(m.items.weight[1:], dim=-1)
    torch.testing.assert_close(m.scores(states), states @ items.T / m.config.temperature, atol=1e-4, rtol=1e-5)


def test_hstus_time_buckets_are_the_released_log_buckets_of_the_gap_to_the_next_interaction():
    """generative-recommenders @ 2e81fab: bucket(i, j) = min(int(ln(max(|t[i + 1] - t[j]|, 1)) / 0.301), 128)."""
    times = torch.tensor([[0, 1, 3, 86_403, 10**18]])
    buckets = time_buckets(times, 128)
    for i in range(4):
        for j in range(4):
            gap = int(times[0, i + 1] - times[0, j])
            assert buckets[0, i, j] == min(int(math.log(max(abs(gap), 1)) / 0.301), 128), (i, j)
    assert buckets[0, 0, 0] == 0 and buckets[0, 2, 2] == 37 and buckets[0, 3, 3] == 128   # 1 s, 1 day, capped


def test_hstus_time_bias_reads_the_time_asked_for_and_nothing_later():
    """Position t's state reads the items up to t, their times, and the time of the item it predicts (t + 1's,
    the target's for the last position); a later item or time leaves it unchanged. Padding changes nothing."""
    m = timed_hstu()
    seq = torch.tensor([[-1, -1, 3, 7, 9, 2, 5, 11]])
    times = torch.tensor([[0, 0, 100, 200, 4_000, 90_000, 90_500, 10**6, 5 * 10**7]])
    states = m(seq, times=times)
    asked_later = times.clone()
    asked_later[0, 8] = 10**9                   # the time the next item is asked for
    moved = times.clone()
    moved[0, 7] = 2 * 10**6                     # the last item's time: the query time of the position before it
    torch.testing.assert_close(m(seq, times=asked_later)[:, :7], states[:, :7])
    assert not torch.allclose(m(seq, times=asked_later)[:, 7], states[:, 7])
    torch.testing.assert_close(m(seq, times=moved)[:, :6], states[:, :6])
    assert not torch.allclose(m(seq, times=moved)[:, 6], states[:, 6])
    torch.testing.assert_close(m(seq[:, 2:], times=times[:, 2:])[:, -1], states[:, -1], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="times"):
        m(seq)


def test_time_aware_hstu_trains_and_ranks_on_split_rows_with_their_times():
    """Through the training loop and full ranking; length groups trim the times with the items; a split written
    before `history_timestamps` is refused with the fix."""
    m = timed_hstu()
    seq = left_pad([[1, 2, 3, 4, 5, 6], [7, 8], [9], [10, 11, 12, 13]], 6)
    times = left_pad([[10, 20, 30, 40, 50, 60], [5, 500], [7], [1, 10**4, 10**5, 10**6]], 6)
    whole = m.training_loss(seq, "softmax", times=times)
    torch.testing.assert_close(m.training_loss(seq, "softmax", times=times, length_groups=3), whole)
    histories, asked = [[1, 2, 3, 4, 5, 6, 7], [8], [9, 10]], [[1, 2, 3, 4, 5, 6, 7, 9], [3, 10**5], [1, 2, 3]]
    for one, grouped in zip(rank_all_items(m, histories, 5, 8, True, length_groups=1, times=asked),
                            rank_all_items(m, histories, 5, 8, True, length_groups=3, times=asked)):
        torch.testing.assert_close(grouped, one, atol=1e-5, rtol=1e-5)
    train = pd.DataFrame({"user_id": [0, 0, 1, 1], "history": [[4], [4, 7], [9], [9, 3]], "target": [7, 2, 3, 5],
                          "timestamp": [50, 90, 8, 400], "history_timestamps": [[10], [10, 50], [1], [1, 8]]})
    valid = pd.DataFrame({"user_id": [0, 1], "history": [[4, 7, 2], [9, 3, 5]], "target": [6, 8],
                          "timestamp": [95, 900], "history_timestamps": [[10, 50, 90], [1, 8, 400]]})
    settings = BaselineTraining(max_epochs=2, batch_size=2, eval_every=1, patience=5)
    info = train_sequential(m, train, valid, settings, mask_history=False)
    assert info["epochs_run"] == 2 and m.reads_times
    top, _ = rank_split(m, valid, 3, 8, mask_history=False)
    assert top.shape == (2, 3)
    with pytest.raises(GenrecError, match="preprocess"):
        rank_split(m, valid.drop(columns="history_timestamps"), 3, 8, mask_history=False)
    with pytest.raises(GenrecError, match="preprocess"):
        train_sequential(m, train.drop(columns="history_timestamps"), valid, settings, mask_history=False)


def test_hstus_time_bias_is_off_on_order_only_data():
    """An order-only source's ordinals are not times: the model is built without the time bias, whatever the
    config says, and reads no times."""
    m = model("hstu", time_buckets=64)
    assert m.config.time_buckets == 0 and not m.reads_times
    assert not any("time_bias" in name for name in m.state_dict())
    assert timed_hstu(time_buckets=64).config.time_buckets == 64


def test_casers_filters_are_the_papers_convolutions():
    """Caser computes its filters as matrix products (faster on CPU); they must equal Conv2d over the window."""
    m = model("caser")
    seq = torch.randint(-1, N_ITEMS, (4, 8), generator=torch.Generator().manual_seed(2))
    L = m.config.window
    x = m.items(torch.nn.functional.pad(seq + 1, (L - 1, 0)).unfold(1, L, 1)).flatten(0, 1)[:, None]
    horizontal = [torch.relu(conv(x).squeeze(3)).amax(dim=2) for conv in m.horizontal]
    z = torch.relu(m.hidden(torch.cat([*horizontal, m.vertical(x).flatten(1)], dim=1)))
    torch.testing.assert_close(m(seq), m.out(z).view(4, 8, -1))


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_training_steps_lower_the_loss(name):
    m = model(name).train()
    seq = (torch.randint(0, N_ITEMS, (16, 1), generator=torch.Generator().manual_seed(1)) + torch.arange(8)) % N_ITEMS
    optimizer = torch.optim.Adam(m.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss = m.training_loss(seq, "softmax")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_padding_positions_are_not_scored():
    m = model("sasrec")
    seq = torch.tensor([[-1, -1, 3, 7, 9], [1, 2, 3, 4, 5]])
    by_hand = torch.nn.functional.cross_entropy(m.scores(m(seq[:, :-1]))[[0, 0, 1, 1, 1, 1], [2, 3, 0, 1, 2, 3]],
                                                torch.tensor([7, 9, 2, 3, 4, 5]))
    torch.testing.assert_close(m.next_item_loss(seq), by_hand)


def test_training_sequences_padding_and_ranking():
    train = pd.DataFrame({"user_id": [0, 0, 0, 1], "history": [[4], [4, 7], [4, 7, 2], [9]], "target": [7, 2, 5, 3]})
    assert training_sequences(train, max_length=50)[:2] == ([[4, 7, 2, 5], [9, 3]], [0, 1])
    # windows of max_length + 1 from the end, one shared item: every target (7, 2, 5) is predicted once
    assert training_sequences(train, max_length=2)[:2] == ([[7, 2, 5], [4, 7], [9, 3]], [0, 0, 1])
    assert left_pad([[1, 2], [3]], 3).tolist() == [[-1, 1, 2], [-1, -1, 3]]
    assert trim_padding(left_pad([[1, 2], [3]], 5)).tolist() == [[1, 2], [-1, 3]]
    top, scores = rank_all_items(model("sasrec"), [[1, 2], [3, 4, 5]], k=5, max_length=8, mask_history=False)
    assert top.shape == (2, 5) and top.max() < N_ITEMS and (scores[:, :-1] >= scores[:, 1:]).all()


def test_mask_history_removes_history_items_only_when_asked():
    m = model("gru4rec")
    history = [list(range(N_ITEMS - 1))]                  # every item but the last one
    top, _ = rank_all_items(m, history, k=1, max_length=8, mask_history=True)
    assert top.tolist() == [[N_ITEMS - 1]]
    top, _ = rank_all_items(m, history, k=N_ITEMS, max_length=8, mask_history=False)
    assert sorted(top[0].tolist()) == list(range(N_ITEMS))


def test_training_sequences_hold_every_train_target_of_a_long_real_user(prepared_sample):
    """The sample's histories are capped at 50: a user with more than max_length + 1 items must still have every
    training target predicted, the latest ones included (they were dropped when one capped row was taken)."""
    from genrec.io import read_table

    train = read_table(prepared_sample / "train.parquet")
    counts = train.groupby("user_id").size()
    user = int(counts.idxmax())
    rows = train[train["user_id"] == user]
    max_length = 8
    assert len(rows) + 1 > max_length + 1
    windows, users, _ = training_sequences(rows, max_length)
    assert set(users) == {user}
    predicted = [item for window in windows for item in window[1:]]      # every next item a window scores
    assert predicted == [] or sorted(predicted) == sorted(int(t) for t in rows["target"])
    assert len(predicted) == len(rows) and windows[0][-1] == int(rows["target"].iloc[-1])
    assert all(len(w) <= max_length + 1 for w in windows)


def test_mostpop_masks_each_rows_history_when_asked():
    train = pd.DataFrame({"user_id": [0, 1, 1, 2, 2], "history": [[0], [1], [1, 4], [2], [2, 4]],
                          "target": [4, 4, 3, 3, 4]})
    histories = [[4, 0], [1], [3, 4, 2]]
    top = most_popular_per_row(train, 6, 3, histories, mask_history=True)
    assert top.tolist() == [[3, 1, 2], [4, 3, 0], [0, 1, 5]]
    assert all(not set(row) & set(h) for row, h in zip(top.tolist(), histories))
    assert most_popular_per_row(train, 6, 3, histories, mask_history=False).tolist() == [[4, 3, 0]] * 3


def test_mostpop_metrics_on_a_hand_made_split():
    train = pd.DataFrame({"user_id": [0, 1, 1, 2, 2], "history": [[0], [1], [1, 4], [2], [2, 4]],
                          "target": [4, 4, 3, 3, 4]})                 # popularity: 4 (x3), 3 (x2), then by id
    test = pd.DataFrame({"user_id": [0, 1, 2], "history": [[0, 4], [1, 4, 3], [2, 4, 4]], "target": [3, 0, 2]})
    top = most_popular(train, 5, 3)
    assert top.tolist() == [4, 3, 0]
    records = item_ranking_records(test, np.tile(top, (3, 1)), None, [f"t{i}" for i in range(5)], history_shown=50)
    metrics = score(records, np.ones(5, dtype=int), (1, 2, 3))["metrics"]
    assert metrics["hr@1"] == 0 and metrics["hr@2"] == pytest.approx(1 / 3) and metrics["hr@3"] == pytest.approx(2 / 3)
    assert metrics["ndcg@3"] == pytest.approx((1 / np.log2(3) + 1 / np.log2(4)) / 3, abs=1e-6)   # rounded
    assert records[1]["titles"] == ["t4", "t3", "t0"] and records[1]["target_title"] == "t0"


def synthetic_split(n_users: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Users walk item i -> i + 1 (mod N): a pattern a sequential model learns in a few epochs."""
    rng = np.random.default_rng(seed)
    train, valid = [], []
    for user in range(n_users):
        start = int(rng.integers(N_ITEMS))
        seq = [(start + i) % N_ITEMS for i in range(7)]
        train += [(user, seq[:i], seq[i]) for i in range(1, 6)]
        valid.append((user, seq[:6], seq[6]))
    columns = ["user_id", "history", "target"]
    return pd.DataFrame(train, columns=columns), pd.DataFrame(valid, columns=columns)


def test_training_keeps_the_best_valid_model_and_stops_early():
    train, valid = synthetic_split(200, seed=0)
    m = build_model("sasrec", {"hidden_size": 16, "num_layers": 1, "num_heads": 1, "dropout": 0.0, "max_length": 8},
                    N_ITEMS)
    info = train_sequential(m, train, valid, BaselineTraining(batch_size=32, learning_rate=1e-2, max_epochs=40,
                                                              patience=3), mask_history=False)
    logged = [e["valid_ndcg@10"] for e in info["log_history"]]
    assert info["select_metric"] == "ndcg@10" and info["best_valid"] == max(logged) > 0.9
    assert info["epochs_run"] < 40 and info["epochs_run"] - info["best_epoch"] == 3
    from genrec.models.baselines.train import valid_metric
    assert valid_metric(m, valid, 8, False, "ndcg@10", 10) == pytest.approx(max(logged), abs=1e-4)


def test_early_stopping_watches_the_configured_valid_metric():
    train, valid = synthetic_split(100, seed=0)
    m = build_model("sasrec", {"hidden_size": 16, "num_layers": 1, "num_heads": 1, "dropout": 0.0, "max_length": 8},
                    N_ITEMS)
    info = train_sequential(m, train, valid, BaselineTraining(batch_size=32, max_epochs=3, select_metric="hr@5"),
                            mask_history=False)
    logged = [e["valid_hr@5"] for e in info["log_history"]]
    assert info["select_metric"] == "hr@5" and info["best_valid"] == max(logged)
    assert "valid_ndcg@10" not in info["log_history"][0]
    for bad in ("mrr@10", "ndcg", "ndcg@0"):
        with pytest.raises(GenrecError, match="baseline_training.select_metric"):
            BaselineTraining(select_metric=bad)


def test_sampled_negatives_avoid_the_rows_items_and_s3recs_loss_learns_the_synthetic_sequences():
    from genrec.models.baselines.sequential import sample_negatives

    rows = torch.tensor([[-1, 0, 1, 2, 3], [4, 5, 6, 7, 8]])
    negatives = sample_negatives(rows, 10, torch.Generator().manual_seed(0))
    assert not (negatives.unsqueeze(-1) == rows.unsqueeze(1)).any()
    assert negatives.min() >= 0 and negatives.max() < 10
    train, valid = synthetic_split(200, seed=0)
    m = build_model("sasrec", {"hidden_size": 16, "num_layers": 1, "num_heads": 1, "dropout": 0.0, "max_length": 8},
                    N_ITEMS)
    info = train_sequential(m, train, valid, BaselineTraining(batch_size=32, learning_rate=1e-2, max_epochs=40,
                                                              patience=3, loss="sampled_bce"), mask_history=False)
    # one negative per position learns slower than the full softmax (> 0.9 above), far above chance (~0.1 here)
    assert info["best_valid"] > 0.5 and info["training"]["loss"] == "sampled_bce"


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_one_seed_gives_one_model_from_initialisation_to_the_trained_weights(name):
    from genrec.models.baselines.train import train_baseline

    train, valid = synthetic_split(50, seed=1)
    settings = BaselineTraining(batch_size=32, max_epochs=2, seed=3)
    (a, log_a), (b, log_b) = [train_baseline(name, {**SMALL[name], "max_length": 8}, N_ITEMS, train, valid, settings,
                                             False, items=ITEMS) for _ in range(2)]
    for (key, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        torch.testing.assert_close(x, y, rtol=0, atol=0, msg=key)
    losses = [[e["loss"] for e in run["log_history"]] for run in (log_a, log_b)]
    assert losses[0] == losses[1]


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_save_pretrained_round_trip(name, tmp_path):
    m = model(name)
    m.save_pretrained(tmp_path / name)
    loaded = load_model(name, str(tmp_path / name)).eval()
    seq = torch.tensor([[-1, 3, 7, 9]])
    torch.testing.assert_close(m(seq), loaded(seq))
    assert loaded.config == m.config


def test_cli_trains_evaluates_and_exports_embeddings(prepared_sample, tmp_path):
    """The commands the rules run, on the real sample: a two-epoch GRU4Rec, test metrics, item embeddings."""
    from genrec.cli import main

    from genrec.evaluate.settings import EvalSettings
    from genrec.settings import BaselineJob, EvaluateJob, Run

    settings = BaselineJob({"hidden_size": 16, "max_length": 20}, BaselineTraining(max_epochs=2, batch_size=512), False)
    model_dir = tmp_path / "gru4rec"
    assert main(["train-baseline", "--name", "gru4rec", "--data", str(prepared_sample), "--settings",
                 settings.to_json(), "--out", str(model_dir), "--threads", "2"]) == 0
    training = json.loads((model_dir / "training.json").read_text())
    assert training["epochs_run"] == 2 and len(training["log_history"]) == 2
    metrics_settings = EvaluateJob(EvalSettings(), Run(dataset="sample", stage="gru4rec", method="gru4rec", seed=42), {})
    assert main(["evaluate-baseline", "--name", "gru4rec", "--model", str(model_dir), "--data", str(prepared_sample),
                 "--settings", metrics_settings.to_json(), "--out-predictions", str(tmp_path / "p.jsonl"),
                 "--out-metrics", str(tmp_path / "m.json")]) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["method"] == "gru4rec" and metrics["n_users"] == 8_317 and metrics["invalid_generations"] == 0
    first = json.loads((tmp_path / "p.jsonl").read_text().splitlines()[0])
    assert len(first["items"]) == 20 and len(first["titles"]) == 10
    assert metrics["mask_history"] is False and metrics["n_rows"] == 8_317
    # the run's one masking rule: no ranked item of any row is in that row's whole history (GRU4Rec and MostPop)
    test = pd.read_parquet(prepared_sample / "test.parquet")
    masked = dataclasses.replace(metrics_settings, evaluate=EvalSettings(mask_history=True))
    for command in (["evaluate-baseline", "--name", "gru4rec", "--model", str(model_dir)], ["mostpop"]):
        assert main([*command, "--data", str(prepared_sample), "--settings", masked.to_json(),
                     "--out-predictions", str(tmp_path / "pm.jsonl"), "--out-metrics", str(tmp_path / "mm.json")]) == 0
        assert json.loads((tmp_path / "mm.json").read_text())["mask_history"] is True
        records = [json.loads(line) for line in (tmp_path / "pm.jsonl").read_text().splitlines()]
        assert [r["row"] for r in records] == list(range(len(test)))
        assert not any(set(r["items"]) & set(h) for r, h in zip(records, test["history"])), command[0]
    assert main(["item-embeddings", "--name", "gru4rec", "--model", str(model_dir), "--out",
                 str(tmp_path / "gru4rec.npy")]) == 0
    vectors = np.load(tmp_path / "gru4rec.npy")
    assert vectors.shape == (4_344, 16) and vectors.dtype == np.float32


def test_unknown_baseline_and_model_setting_are_refused():
    from genrec.errors import GenrecError

    with pytest.raises(GenrecError, match="unknown sequential baseline 'nextitnet'"):
        build_model("nextitnet", {}, N_ITEMS)
    with pytest.raises(GenrecError, match=r"unknown .*setting\(s\) \['layers'\]"):
        build_model("sasrec", {"layers": 2}, N_ITEMS)


def test_casers_user_embedding_reads_the_rows_user_and_trains_saves_and_ranks(tmp_path):
    """`user_embedding: true` (the paper's P_u): the state depends on the user, users unseen in training share
    row 0, and the model trains, round-trips through save_pretrained and ranks with the split's user ids."""
    from genrec.models.baselines.train import train_baseline, valid_metric

    train, valid = synthetic_split(60, seed=4)
    settings = BaselineTraining(batch_size=32, max_epochs=2, seed=5, loss="sampled_bce")
    architecture = {**SMALL["caser"], "max_length": 8, "dropout": 0.0, "user_embedding": True}
    m, info = train_baseline("caser", architecture, N_ITEMS, train, valid, settings, False)
    assert m.config.n_users == train["user_id"].max() + 1 and info["model"]["user_embedding"]
    m.eval()
    seq = torch.tensor([[3, 7, 9], [3, 7, 9]])
    a = m(seq, torch.tensor([0, 1]))
    assert not torch.allclose(a[0], a[1])
    unseen = m(seq[:1], torch.tensor([10_000]))
    torch.testing.assert_close(unseen, m(seq[:1], torch.tensor([-1])))
    with pytest.raises(ValueError, match="user ids"):
        m(seq)
    m.save_pretrained(tmp_path / "caser")
    loaded = load_model("caser", str(tmp_path / "caser")).eval()
    torch.testing.assert_close(loaded(seq, torch.tensor([0, 1])), a)
    top, _ = rank_all_items(loaded, [[3, 7, 9], [3, 7, 9]], k=3, max_length=8, mask_history=False, users=[0, 1])
    assert top.shape == (2, 3)
    assert 0.0 <= valid_metric(loaded, valid, 8, False, "ndcg@10", 10) <= 1.0
