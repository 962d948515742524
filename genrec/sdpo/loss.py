"""The S-DPO loss (Chen et al., NeurIPS 2024, Eq. 8; chenyuxin1999/S-DPO @ 07befa4,
trainer/softmax_dpo_trainer.py `dpo_loss`): with r = log pi(y|x) - log pi_ref(y|x) summed over the response,

    L = -log sigmoid( -log sum_j exp( beta * (r_{l_j} - r_w) ) )

over one preferred item w and the sampled negatives l_j. With one negative it is DPO's -log sigmoid(beta (r_w - r_l)).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def softmax_dpo_loss(chosen_logratios: torch.Tensor, rejected_logratios: torch.Tensor,
                     beta: float) -> torch.Tensor:
    """Per row: `chosen_logratios` (rows,), `rejected_logratios` (rows x negatives). The log-sum-exp form of the
    authors' `-log(sum(exp(...)))`, equal to it and stable for large margins."""
    margins = beta * (rejected_logratios - chosen_logratios.unsqueeze(1))
    return -F.logsigmoid(-torch.logsumexp(margins, dim=1))
