"""Whether a stage computes in bf16: one rule for training (SFT, RL) and evaluation alike."""

from __future__ import annotations

import torch

from genrec.errors import GenrecError


def use_bf16(precision: str, key: str = "sft.precision") -> bool:
    """Whether to run in bf16: `auto` where the device has native bf16 (CUDA, or a CPU with AVX512-BF16/AMX)."""
    if precision == "float32":
        return False
    if torch.cuda.is_available():
        supported = torch.cuda.is_bf16_supported()
    else:
        supported = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    if precision == "bfloat16" and not supported:
        raise GenrecError("bfloat16 requested but this device has no native bf16", key=key)
    return supported
