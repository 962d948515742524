from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SHARED_DATA = ROOT.parent / "shared" / "data"
RELEASE = SHARED_DATA / "minionerec-release" / "Industrial_and_Scientific"

requires_shared = pytest.mark.skipif(
    not RELEASE.exists(), reason=f"{RELEASE} not present (the shared real MiniOneRec release is optional)"
)


def write_lines(path: Path, records: list, as_python: bool = False) -> Path:
    """Write one record per line, as JSON (2018/2023) or Python literals (2014 meta); .gz by suffix."""
    text = "".join((repr(r) if as_python else json.dumps(r)) + "\n" for r in records)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def review18(user: str, asin: str, t: int, overall: float = 5.0) -> dict:
    """An Amazon 2018 review with every field the real files carry."""
    return {"overall": overall, "verified": True, "reviewTime": "11 7, 2017", "reviewerID": user, "asin": asin,
            "style": {"Size:": " 1-Pack"}, "reviewerName": "R. Eviewer", "reviewText": "Works as described.",
            "summary": "Good", "unixReviewTime": t}


def meta18(asin: str, title, **extra) -> dict:
    record = {"category": ["Industrial & Scientific", "Lab & Scientific Products"], "tech1": "",
              "description": ["Heavy duty.", "<b>Made in USA</b>"], "fit": "", "also_buy": [], "tech2": "",
              "brand": "Acme", "feature": ["durable"], "rank": ["1,234 in Industrial"], "also_view": [],
              "main_cat": "Industrial & Scientific", "similar_item": "", "date": "", "price": "$9.99",
              "asin": asin, "imageURL": [], "imageURLHighRes": []}
    if title is not None:
        record["title"] = title
    record.update(extra)
    return record


@pytest.fixture
def sample_files() -> dict[str, Path]:
    return {"inter": SAMPLE / "Scientific.inter.json.gz", "item": SAMPLE / "Scientific.item.json.gz"}


@pytest.fixture(scope="session")
def prepared_sample(tmp_path_factory) -> Path:
    """The bundled sample preprocessed (loo splits) into a scratch directory."""
    from genrec.data.preprocess import run_preprocess
    from genrec.data.spec import dataset_spec

    out = tmp_path_factory.mktemp("prepared") / "sample"
    files = {"inter": SAMPLE / "Scientific.inter.json.gz", "item": SAMPLE / "Scientific.item.json.gz"}
    run_preprocess(dataset_spec("sample", ROOT / "config" / "datasets.yaml"), files, out)
    return out


# the real bundled rqvae index of the sample (3 levels, about 20 % of items share their SID)
SAMPLE_INDEX = SAMPLE / "indexes" / "rqvae_native.index.json.gz"


@pytest.fixture(scope="module")
def sample(prepared_sample):
    """The prepared sample's items, the bundled rqvae index and the training split."""
    from genrec.io import read_table
    from genrec.tokenize.index import read_index

    items = read_table(prepared_sample / "items.parquet")
    return items, read_index(SAMPLE_INDEX, n_items=len(items)), read_table(prepared_sample / "train.parquet")


def first_users(prepared: Path, out: Path, users: int = 300) -> Path:
    """A copy of a prepared dataset with the rows of its first `users` users only (short real runs)."""
    from genrec.io import read_table

    out.mkdir(parents=True)
    for name in ("items", "train", "valid", "test"):
        table = read_table(prepared / f"{name}.parquet")
        if name != "items":
            table = table[table["user_id"] < users]
        table.to_parquet(out / f"{name}.parquet")
    (out / "stats.json").write_text((prepared / "stats.json").read_text())     # what prompts call the items
    return out


# Item titles of very different lengths, items 2 and 5 sharing one (the tie rule of the title methods), and the
# response a title-writing model gives: the title decoding and grounding tests' catalogue.
TITLES = ["Beaker", "Nitrile Gloves, Box of 100, Large", "Digital Caliper", "Safety Goggles",
          "Lab Glass Beaker 500 ml with Spout and Graduations, Borosilicate", "Digital Caliper", "Wire Cutter"]


def title_model(titles: list[str], template, output_scale: float | None = None):
    """A random two-layer tiny LM whose tokenizer is trained on `titles`' responses; with `output_scale`, output
    embeddings of that spread (a model with sharp preferences)."""
    import torch

    from genrec.models.backbone import BackboneSpec, build_tiny_backbone

    spec = BackboneSpec.named("tiny", {"hidden_size": 32, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2,
                                       "intermediate_size": 64, "text_vocab_size": 300})
    model, tokenizer = build_tiny_backbone(spec, [template.title_response(t) for t in titles] * 20, seed=0)
    if output_scale is not None:
        with torch.no_grad():
            model.get_output_embeddings().weight.normal_(0, output_scale)
    return model.eval(), tokenizer


def tiny_backbone():
    """A one-layer d32 `tiny` backbone spec: the smallest model the SFT and RL tests train."""
    from genrec.models.backbone import BackboneSpec

    return BackboneSpec.named("tiny", {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 2,
                                             "intermediate_size": 64, "text_vocab_size": 400})


def as_trained(model_dir: Path, index_path: Path, templates: dict, prompt_history: int = 20) -> Path:
    """Record in a hand-built checkpoint what a training rule records: its prompts and its SID index."""
    import json

    from genrec.models.checkpoint import SID_INDEX, TrainedWith
    from genrec.tokenize.index import index_json, read_index

    info = {"seconds": 0.0, **TrainedWith("short", templates, prompt_history).record()}
    (model_dir / "training.json").write_text(json.dumps(info))
    (model_dir / SID_INDEX).write_text(index_json(read_index(index_path)))
    return model_dir


def short_templates() -> dict:
    """The `short` prompt set of the default config."""
    from genrec.config import read_yaml

    return read_yaml(ROOT / "config" / "config.yaml")["prompts"]["short"]


# --- The workflow in a scratch copy (tests never touch the checkout's results/) ------------------------------
WORKFLOW_PARTS = ("Snakefile", "rules", "config", "profiles", "genrec/schemas", "data/sample", "data/sample_dated",
                  "tests/fast.yaml", "tests/fast-sequence.yaml",
                  "dvc.yaml", ".dvcignore",
                  "scripts/pull_artifacts.sh")


def copy_workflow(dst: Path) -> Path:
    for part in WORKFLOW_PARTS:
        src, target = ROOT / part, dst / part
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy)(src, target)
    return dst


@pytest.fixture
def workdir(tmp_path) -> Path:
    return copy_workflow(tmp_path)


def snakemake(workdir: Path, *args: str, timeout: float = 1100, env: dict | None = None,
              cores: str | None = "2") -> subprocess.CompletedProcess:
    """`snakemake [--cores N] ARGS` in `workdir`, output captured."""
    command = [sys.executable, "-m", "snakemake", *(["--cores", cores] if cores else []), *args]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env)


# The CPU grid of config/experiments/cpu-full.yaml (every tokenizer, baseline, RL on valid too) with the tiny
# models and short training of tests/fast.yaml.
FAST = ["--configfile", "config/experiments/cpu-full.yaml", "tests/fast.yaml"]
# The run's limit (a fresh run took 2,878 s on 2 cores on 2026-12-07, before distillation and GRPO joined it); tests
# that may start it allow for it.
PIPELINE_SECONDS = 4800
PIPELINE_TIMEOUT = pytest.mark.timeout(PIPELINE_SECONDS + 300)


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory):
    """The workflow run once per test session (about 17 min on 2 cores): its directory and the run's result.
    Tests that read it must not change it (the DVC round trip restores what it removes)."""
    reuse = os.environ.get("GENREC_TEST_PIPELINE")      # a finished copy, to iterate on the tests that read it
    if reuse:
        return Path(reuse), subprocess.CompletedProcess([], 0, "", "")
    workdir = copy_workflow(tmp_path_factory.mktemp("pipeline"))
    run = snakemake(workdir, *FAST, timeout=PIPELINE_SECONDS)
    return workdir, run
