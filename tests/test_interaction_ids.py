"""ETEGRec's Table 3 tokenizers that are not plain RQ-VAEs: SID and CID (Hua et al.) from the training split, and
LETTER's two regularisers."""

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import ROOT

from genrec.data.sequences import user_sequences
from genrec.errors import GenrecError
from genrec.tokenize.build import TokenizerSpec, build_sid
from genrec.tokenize.collaborative_ids import CollaborativeParams, collaborative_ids, cooccurrence_graph, path_codes
from genrec.tokenize.index import codes_to_index, index_json, read_index
from genrec.tokenize.rqvae import RQVAEConfig, codebook_clusters, collaborative_loss, same_cluster_codes, train_rqvae
from genrec.tokenize.sequential_ids import SequentialParams, first_appearance_order, sequential_ids


def training_rows(sequences: dict[int, list[int]]) -> pd.DataFrame:
    """A training split as preprocess writes it: one row per target, the history before it (first item alone)."""
    rows = [{"user_id": user, "history": items[:k], "target": items[k], "timestamp": 100 * user + k}
            for user, items in sequences.items() for k in range(1, len(items))]
    return pd.DataFrame(rows)


def sequences_of(by_user: dict[int, list[int]]) -> list[list[int]]:
    """The users' training sequences as the tokenize command reads them from the split (users in id order)."""
    return [s.items for s in user_sequences(training_rows(by_user))]


def test_sid_numbers_items_by_first_appearance_users_in_id_order():
    # user 2 comes first in the table, but users are visited in id order (the original: file order = user id)
    train = sequences_of({2: [5, 0], 1: [3, 4, 3, 0]})
    rank, seen = first_appearance_order(train, 7)
    assert seen == 4 and list(rank[[3, 4, 0, 5]]) == [0, 1, 2, 3]
    assert list(rank[[1, 2, 6]]) == [4, 5, 6]                      # never in training: after, in id order
    codes = sequential_ids(train, 7, SequentialParams()).codes
    assert codes[3].tolist() == [1, 0, 0, 1] and codes[6].tolist() == [1, 0, 0, 7]    # 1001 and 1007


def test_sid_digits_are_fixed_width_so_no_id_is_a_prefix_of_another():
    train = [list(range(9_100))]                                    # numbers 1001..10100 cross into 5 digits
    index = codes_to_index(sequential_ids(train, 9_100, SequentialParams()).codes)
    assert {len(sid) for sid in index.values()} == {5}
    assert index[0] == ["<a_0>", "<b_1>", "<c_0>", "<d_0>", "<e_1>"] and index[9_099][:2] == ["<a_1>", "<b_0>"]


def test_cooccurrence_counts_every_pair_of_a_sequence_in_both_directions():
    graph = cooccurrence_graph([[0, 1, 2, 1], [2, 0]], 4).toarray()
    # user 0: (0,1) (0,2) (0,1) (1,2) (2,1) [(1,1) dropped]; user 1: (2,0)
    assert graph[0, 1] == graph[1, 0] == 2 and graph[0, 2] == graph[2, 0] == 2 and graph[1, 2] == 2
    assert np.trace(graph) == 0 and graph[3].sum() == 0


def test_cid_paths_are_unique_prefix_free_and_vary_in_length(tmp_path):
    paths = {0: (0,), 1: (0,), 2: (1, 0), 3: (1, 0), 4: (1, 1), 5: ()}
    order = np.array([5, 4, 3, 2, 1, 0])
    codes = path_codes(paths, order, 6)
    index = codes_to_index(codes)
    (tmp_path / "index.json").write_text(index_json(index))
    assert read_index(tmp_path / "index.json", n_items=6) == index          # unique and prefix-free
    assert [len(index[i]) for i in range(6)] == [2, 2, 3, 3, 3, 1]
    assert index[1][1] != index[0][1] and index[1][1] == "<b_2>"     # leaf ranks follow the depth's 2 nodes; item 1 first
    assert index[5] == ["<a_2>"]                                      # the root leaf ranks after depth 0's nodes


def test_cid_separates_two_communities_and_splits_big_clusters():
    rng = np.random.default_rng(0)
    # two groups of 40 items, each user buying within one group: the first split follows the groups
    sequences = {u: list(rng.choice(np.arange(40) + 40 * (u % 2), size=8, replace=False)) for u in range(400)}
    quantized = collaborative_ids(list(sequences.values()), 81, CollaborativeParams(clusters=2, max_cluster_size=30))
    top = quantized.codes[:, 0]
    assert len(set(top[:40])) == 1 and len(set(top[40:80])) == 1 and top[0] != top[40]
    assert quantized.info["cold_items"] == 1 and quantized.codes.shape[1] >= 3     # 40 > 30: split again
    assert len({tuple(row) for row in quantized.codes.tolist()}) == 81


def test_cid_on_the_bundled_sample_keeps_leaves_under_the_cap():
    from genrec.data.preprocess import preprocess
    from genrec.data.spec import load_datasets

    spec = load_datasets(ROOT / "config" / "datasets.yaml")["sample"]
    prepared = preprocess(spec, {role: ROOT / raw.path for role, raw in spec.raw.items()})
    sequences = [s.items for s in user_sequences(prepared.splits["train"])]
    quantized = collaborative_ids(sequences, len(prepared.items), CollaborativeParams())
    assert quantized.info["largest_leaf"] <= 500 and quantized.info["items_in_graph"] > 4_000
    assert len({tuple(row) for row in quantized.codes.tolist()}) == len(prepared.items)


def test_interaction_tokenizers_refuse_levels_and_letter_needs_a_baseline():
    with pytest.raises(GenrecError, match="derives its ID length"):
        TokenizerSpec.named("sid", {"method": "sequential", "levels": 4})
    with pytest.raises(GenrecError, match="needs `collaborative`"):
        TokenizerSpec.named("letter", {"method": "letter"})
    with pytest.raises(GenrecError, match="only it"):
        TokenizerSpec.named("rqvae", {"method": "rqvae", "collaborative": "sasrec"})


def test_diversity_positive_is_another_code_of_the_same_cluster():
    torch.manual_seed(0)
    clusters = codebook_clusters(torch.randn(64, 8), 4, seed=0)
    assigned = torch.randint(64, (2_000,))
    positive = same_cluster_codes(assigned, clusters, torch.Generator().manual_seed(0))
    assert (positive != assigned).all()
    assert all(int(p) in clusters[int(a)].tolist() for a, p in zip(assigned[:200], positive[:200]))
    # every other member is drawn: the draw skips only the anchor itself
    drawn = same_cluster_codes(torch.full((500,), 7), clusters, torch.Generator().manual_seed(1))
    assert set(drawn.tolist()) == set(clusters[7].tolist()) - {7, -1}


def test_collaborative_loss_is_lowest_when_each_latent_matches_its_own_item():
    h = torch.eye(4) * 5
    assert collaborative_loss(h, h) < collaborative_loss(h, h[[1, 0, 3, 2]])


def test_letter_aligns_codes_with_collaborative_embeddings():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 16)).astype(np.float32)
    cf = rng.normal(size=(256, 8)).astype(np.float32)
    base = dict(levels=2, codebook_size=16, latent_dim=8, hidden=[32], batch_size=64, max_epochs=6, eval_every=3,
                max_seconds=None, sinkhorn_epsilon=[0.0, 0.0])
    letter = RQVAEConfig(**base, collaborative_weight=1.0, diversity_weight=0.1, diversity_clusters=2, level_loss="mean")
    plain = train_rqvae(x, RQVAEConfig(**base)).codes
    aligned = train_rqvae(x, letter, collaborative=cf).codes
    assert aligned.shape == plain.shape and not np.array_equal(aligned, plain)
    with pytest.raises(GenrecError, match="latent_dim"):
        train_rqvae(x, letter, collaborative=cf[:, :4])
    with pytest.raises(GenrecError, match="collaborative item embeddings"):
        train_rqvae(x, letter)


def test_build_sid_runs_sid_from_the_training_split():
    index, stats = build_sid(TokenizerSpec.named("sid", {"method": "sequential"}), sequences=sequences_of(
        {0: [2, 0, 1], 1: [1, 3]}), n_items=4)
    assert index[2] == ["<a_1>", "<b_0>", "<c_0>", "<d_1>"] and stats["encoder"] == "training interactions"
    assert stats["collision_rate_after"] == 0.0 and stats["codebook_sizes"] is None
