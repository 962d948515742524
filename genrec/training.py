"""What the HF-Trainer stages (SFT, RL) share: the global batch as accumulation steps, a wall-clock limit, and
the learning-rate schedule HF lacks (TIGER's inverse square root)."""

from __future__ import annotations

import logging
import os
import time

from transformers import TrainerCallback

from genrec.errors import GenrecError

log = logging.getLogger(__name__)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def gradient_accumulation(batch_size: int, micro_batch_size: int, devices: int) -> int:
    """Steps to accumulate so that one optimizer step sees `batch_size` examples on `devices` devices."""
    per_step = micro_batch_size * devices
    if batch_size % per_step:
        raise GenrecError(f"global batch_size {batch_size} is not a multiple of micro_batch_size x devices "
                          f"= {micro_batch_size} x {devices}", key="sft.batch_size",
                          fix="choose a batch_size divisible by micro_batch_size times the number of devices")
    return batch_size // per_step


def rsqrt_decay(constant_steps: int):
    """TIGER's schedule (Sec. 4.1; T5X's `rsqrt_decay`): the base rate for `constant_steps` steps, then
    base * sqrt(constant_steps / step). HF's `inverse_sqrt` differs: it ramps up linearly during its warm-up
    and decays as 1 / sqrt((step + shift) / timescale). A multiplier for `torch.optim.lr_scheduler.LambdaLR`."""
    constant_steps = max(1, constant_steps)

    def multiplier(step: int) -> float:
        return min(1.0, (constant_steps / max(step, 1)) ** 0.5)

    return multiplier


class TimeLimit(TrainerCallback):
    """Ends training once `seconds` have passed, saving a checkpoint first (so the run can resume). Where the
    run is evaluated, the last state is evaluated too, so that best-model selection can pick it."""

    def __init__(self, seconds: float):
        self.seconds, self.start = seconds, time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        if time.monotonic() - self.start > self.seconds:
            log.info("time limit of %.0f s reached at step %d", self.seconds, state.global_step)
            control.should_training_stop = True
            control.should_save = True
            control.should_evaluate = args.eval_strategy != "no"
        return control


class EpochClock(TrainerCallback):
    """Seconds of training per epoch, evaluation excluded (HF reports each evaluation's `eval_runtime`)."""

    def __init__(self):
        self.seconds: list[float] = []
        self.start, self.evaluating = time.monotonic(), 0.0

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.start, self.evaluating = time.monotonic(), 0.0

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.evaluating += float((metrics or {}).get("eval_runtime", 0.0))

    def on_epoch_end(self, args, state, control, **kwargs):
        self.seconds.append(round(time.monotonic() - self.start - self.evaluating, 2))
