"""SASRec: output shapes, no future leakage through the causal mask, and a few steps lowering the loss."""

import torch

from genrec.models.baselines.sasrec import SASRec, SASRecConfig


def model(n_items: int = 30) -> SASRec:
    torch.manual_seed(0)
    return SASRec(n_items, SASRecConfig(hidden_size=16, num_layers=2, num_heads=2, dropout=0.0, max_length=8)).eval()


def test_shapes():
    m = model()
    states = m(torch.randint(-1, 30, (3, 8)))
    assert states.shape == (3, 8, 16) and m.scores(states).shape == (3, 8, 30)


def test_changing_a_later_item_leaves_earlier_positions_unchanged():
    m = model()
    seq = torch.tensor([[-1, -1, 3, 7, 9, 2, 5, 11]])
    changed = seq.clone()
    changed[0, 5] = 20
    a, b = m(seq), m(changed)
    torch.testing.assert_close(a[:, :5], b[:, :5])
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_training_steps_lower_the_loss():
    m = model().train()
    seq = torch.randint(0, 30, (16, 8))
    optimizer = torch.optim.Adam(m.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        logits = m.scores(m(seq[:, :-1]))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 30), seq[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_training_sequences_take_each_users_longest_row():
    import pandas as pd

    from genrec.models.baselines.sasrec import left_pad, rank_all_items, training_sequences

    train = pd.DataFrame({"user_id": [0, 0, 0, 1], "history": [[4], [4, 7], [4, 7, 2], [9]], "target": [7, 2, 5, 3]})
    assert training_sequences(train, max_length=50) == [[4, 7, 2, 5], [9, 3]]
    assert training_sequences(train, max_length=2) == [[7, 2, 5], [9, 3]]
    assert left_pad([[1, 2], [3]], 3).tolist() == [[-1, 1, 2], [-1, -1, 3]]
    top = rank_all_items(model(), [[1, 2], [3, 4, 5]], k=5)
    assert top.shape == (2, 5) and top.max() < 30
