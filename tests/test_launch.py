"""genrec.launch: a training job's command on the GPUs it was given."""

import sys

from genrec.launch import launch_command

CONFIG = "config/accelerate/deepspeed_zero2.yaml"


def test_several_gpus_go_through_accelerate_with_the_zero2_config():
    argv = launch_command(8, CONFIG, ["sft", "--data", "d"])
    assert argv == [sys.executable, "-m", "accelerate.commands.launch", "--config_file", CONFIG,
                    "--num_processes", "8", "-m", "genrec", "sft", "--data", "d"]


def test_one_gpu_or_the_cpu_runs_plain_python():
    for gpus in (0, 1):
        assert launch_command(gpus, CONFIG, ["rl"]) == [sys.executable, "-m", "genrec", "rl"]
