"""How long Snakemake takes to decide that nothing is left to do on the full paper grid.

The paper grid (config/experiments/paper-minionerec.yaml, ~1,400 jobs) is planned in a scratch copy of the
workflow, every output it would produce is created empty with one modification time (directories for
directory() outputs), and `snakemake -n --profile profiles/slurm` is timed: it must report nothing to do.
Target: <= 10 s. Run: .venv/bin/python benchmarks/bench_dryrun.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import copy_workflow  # noqa: E402  (the same scratch copy the workflow tests use)

PAPER = ["--configfile", "config/experiments/paper-minionerec.yaml"]
DIRECTORY_RULES = {"sft", "rl", "train_baseline"}     # rules whose output is a directory()


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, capture_output=True, text=True,
                          check=False)


def materialise_outputs(workdir: Path) -> int:
    """Create every output of the plan (empty files / directories), all with the same modification time."""
    summary = snakemake(workdir, "--cores", "1", "--summary", *PAPER)
    rows = [line.split("\t") for line in summary.stdout.splitlines()[1:] if "\t" in line]
    stamp = time.time() - 60
    for path, _, rule, *_ in rows:
        target = workdir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.mkdir(exist_ok=True) if rule in DIRECTORY_RULES else target.touch()
    for path in workdir.joinpath("results").rglob("*"):
        os.utime(path, (stamp, stamp))
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        workdir = copy_workflow(Path(scratch))
        start = time.perf_counter()
        planned = snakemake(workdir, "-n", "--profile", "profiles/slurm", *PAPER)
        full_plan = time.perf_counter() - start
        jobs = planned.stdout.count("\nrule ") + planned.stdout.startswith("rule ")
        files = materialise_outputs(workdir)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            noop = snakemake(workdir, "-n", "--profile", "profiles/slurm", *PAPER)
            times.append(time.perf_counter() - start)
            if "Nothing to be done" not in noop.stdout + noop.stderr:
                raise SystemExit(f"expected a no-op dry run, got:\n{(noop.stdout + noop.stderr)[-3000:]}")
    print(f"paper grid: {jobs} jobs planned in {full_plan:.1f} s (dry run, nothing built)")
    print(f"no-op dry run over {files} existing outputs: best {min(times):.1f} s, median "
          f"{sorted(times)[len(times) // 2]:.1f} s of {args.repeats} (target <= 10 s)")


if __name__ == "__main__":
    main()
