"""ETEGRec's alignment losses on hand-made cases (genrec/etegrec/losses.py)."""

import math

import torch

from genrec.etegrec.losses import (code_distributions, distinct_targets, preference_semantic_alignment,
                                          sequence_item_alignment)


def test_code_distribution_favours_the_nearest_code_under_the_papers_sign():
    codebook = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    residual = torch.tensor([[0.9, 0.1]])
    paper = code_distributions([residual], [codebook]).exp()
    released = code_distributions([residual], [codebook], sign=1.0).exp()
    assert paper.shape == (1, 1, 3) and paper[0, 0].argmax() == 1 and released[0, 0].argmax() == 2
    torch.testing.assert_close(paper.sum(-1), torch.ones(1, 1))


def test_sia_is_a_symmetric_kl_zero_only_for_equal_distributions():
    p = torch.log_softmax(torch.tensor([[[2.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]]), dim=-1)   # 2 items x 1 level
    q = torch.log_softmax(torch.tensor([[[0.0, 2.0, 0.0]], [[0.0, 1.0, 0.0]]]), dim=-1)
    assert sequence_item_alignment(p, p) == 0
    assert torch.isclose(sequence_item_alignment(p, q), sequence_item_alignment(q, p))
    a, b = p[0, 0].exp(), q[0, 0].exp()        # item 2 agrees; item 1's two KLs, averaged over 2 rows
    expected = ((a * (a.log() - b.log())).sum() + (b * (b.log() - a.log())).sum()) / 2
    torch.testing.assert_close(sequence_item_alignment(p, q), expected)


def test_psa_is_symmetric_infonce_over_the_batch():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    aligned = preference_semantic_alignment(q, q * 3)          # cosine: the scale does not matter
    crossed = preference_semantic_alignment(q, q.flip(0))
    assert aligned < crossed
    # each row: CE with logits (1/t, 0); at t = 1 the value is well inside float32's precision
    assert math.isclose(preference_semantic_alignment(q, q, temperature=1.0).item(), 2 * math.log(1 + math.exp(-1)),
                        rel_tol=1e-6)


def test_alignment_uses_each_distinct_target_once():
    assert distinct_targets(torch.tensor([5, 3, 5, 2, 3])).tolist() == [0, 1, 3]
