"""Start a genrec command on the GPUs a job was given.

`python -m genrec.launch --processes N -- sft ...`: with N > 1 the command runs under `accelerate launch`
with the DeepSpeed ZeRO-2 config (one process per GPU); otherwise it runs in this process. The Snakemake
rules pass their `gpu` resource as N, so the same rule serves a laptop, one GPU, and a multi-GPU node.
"""

from __future__ import annotations

import argparse
import os
import sys


def launch_command(processes: int, accelerate_config: str, command: list[str]) -> list[str]:
    """The argv that runs `genrec <command>` on `processes` processes."""
    if processes > 1:
        return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", accelerate_config,
                "--num_processes", str(processes), "-m", "genrec", *command]
    return [sys.executable, "-m", "genrec", *command]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m genrec.launch", description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=1, help="GPUs of the job (0 or 1: a single process)")
    parser.add_argument("--accelerate-config", default="config/accelerate/deepspeed_zero2.yaml")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="a genrec command and its options")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the genrec command to run, e.g. `-- sft --data ...`")
    argv_out = launch_command(args.processes, args.accelerate_config, command)
    os.execv(argv_out[0], argv_out)


if __name__ == "__main__":
    main()
