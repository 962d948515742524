"""Every bad input ends in one clear error naming the file (and line), with nothing half-written."""

import gzip
import subprocess
import sys

import pytest
from conftest import ROOT, meta18, review18, write_lines
from test_preprocess import toy_files, toy_spec

from genrec.cli import main
from genrec.data.loaders import load_amazon18
from genrec.data.preprocess import preprocess
from genrec.data.spec import dataset_spec, load_datasets
from genrec.errors import GenrecError


def test_truncated_gzip_names_file_and_last_good_line(tmp_path):
    path = write_lines(tmp_path / "X_5.json.gz", [review18(f"u{i}", "a", 1) for i in range(2000)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    meta = write_lines(tmp_path / "meta.json", [meta18("a", "Alpha")])
    with pytest.raises(GenrecError, match=r"truncated or corrupt after line \d+") as err:
        load_amazon18(path, meta)
    assert str(path) in err.value.message and "download it again" in err.value.message


def test_malformed_json_line_names_file_and_line(tmp_path):
    path = tmp_path / "X_5.json"
    path.write_text(f'{review18("u", "a", 1)}\n'.replace("'", '"').replace("True", "true")
                    + '{"reviewerID": "u2", "asin": \n')
    with pytest.raises(GenrecError) as err:
        load_amazon18(path, write_lines(tmp_path / "meta.json", [meta18("a", "Alpha")]))
    assert f"{path}:2: malformed record" in err.value.message


def test_missing_required_field_names_the_field(tmp_path):
    bad = review18("u", "a", 1)
    del bad["unixReviewTime"]
    path = write_lines(tmp_path / "X_5.json", [review18("u", "a", 1), bad])
    with pytest.raises(GenrecError) as err:
        load_amazon18(path, write_lines(tmp_path / "meta.json", [meta18("a", "Alpha")]))
    assert f"{path}:2" in err.value.message and "'unixReviewTime'" in err.value.message


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(GenrecError) as err:
        dataset_spec("Nope", ROOT / "config" / "datasets.yaml")
    assert "unknown dataset 'Nope'" in err.value.message and "sample" in err.value.message


def test_filter_that_leaves_zero_users(tmp_path):
    with pytest.raises(GenrecError, match="no interactions left after the 'kcore' filter"):
        preprocess(toy_spec(kcore=50), toy_files(tmp_path))


def test_time_protocol_refused_without_timestamps(sample_files):
    spec = load_datasets(ROOT / "config" / "datasets.yaml")["sample"]
    from dataclasses import replace

    with pytest.raises(GenrecError, match="has no timestamps"):
        preprocess(replace(spec, protocol="time_811"), sample_files)


def test_invalid_dataset_config_names_the_key(tmp_path):
    config = tmp_path / "datasets.yaml"
    config.write_text("datasets:\n  x:\n    source: amazon18\n    raw: {reviews: {path: r.json}}\n"
                      "    split: {protocol: leave_one_out, max_history: 50}\n")
    with pytest.raises(GenrecError) as err:
        load_datasets(config)
    assert "datasets.x.split.protocol" in err.value.message and "leave_one_out" in err.value.message


def test_cli_prints_one_message_no_traceback_and_writes_nothing(tmp_path):
    files = toy_files(tmp_path)
    with gzip.open(files["reviews"], "at") as handle:
        handle.write("{not json\n")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "genrec", "preprocess", "--dataset", "sample", "--datasets",
         str(ROOT / "config" / "datasets.yaml"), "--out", str(out),
         "--raw", f"inter={files['reviews']}", "--raw", f"item={files['meta']}"],
        capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "genrec preprocess: error:" in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_failed_rerun_keeps_the_finished_artifact(tmp_path):
    out = tmp_path / "out"
    files = toy_files(tmp_path)
    datasets = tmp_path / "datasets.yaml"
    datasets.write_text("datasets:\n  toy:\n    source: amazon18\n    raw: {reviews: {path: r}, meta: {path: m}}\n"
                        "    filters: {kcore: 2}\n    split: {protocol: time_811, max_history: 10}\n")
    args = ["preprocess", "--dataset", "toy", "--datasets", str(datasets), "--out", str(out),
            "--raw", f"reviews={files['reviews']}", "--raw", f"meta={files['meta']}"]
    assert main(args) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    datasets.write_text(datasets.read_text().replace("kcore: 2", "kcore: 99"))
    assert main(args) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
