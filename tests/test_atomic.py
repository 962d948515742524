"""Outputs appear whole or not at all: what makes a job killed half-way leave nothing a rerun would trust."""

import signal
import subprocess
import sys

import pytest

from genrec.io import atomic_outputs


def test_a_failed_block_leaves_no_output_and_keeps_the_finished_one(tmp_path):
    finished = tmp_path / "metrics.json"
    finished.write_text("finished")
    with pytest.raises(RuntimeError):
        with atomic_outputs(finished, tmp_path / "predictions.jsonl") as (metrics, predictions):
            predictions.write_text("half")
            raise RuntimeError("job failed")
    assert finished.read_text() == "finished"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


WRITER = """
import sys, time
from genrec.io import atomic_outputs
with atomic_outputs(sys.argv[1]) as (tmp,):
    tmp.write_text("half of an artifact")
    print("writing", flush=True)
    time.sleep(60)
"""


def test_a_job_killed_mid_write_leaves_no_artifact(tmp_path):
    target = tmp_path / "model" / "index.json"
    job = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert job.stdout.readline().strip() == "writing"
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=30)
    assert not target.exists()
