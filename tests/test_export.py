"""Exporters round-trip through our own importers: what MiniOneRec's / LC-Rec's scripts would read
is exactly our split."""

import pytest
from conftest import ROOT, SAMPLE

from genrec.data.export import export_lcrec, export_minionerec
from genrec.data.minionerec_release import release_to_prepared
from genrec.data.preprocess import preprocess
from genrec.data.spec import DatasetSpec, load_datasets
from genrec.errors import GenrecError
from genrec.tokenize.index import read_index


@pytest.fixture(scope="module")
def sample():
    spec = load_datasets(ROOT / "config" / "datasets.yaml")["sample"]
    return spec, preprocess(spec, {role: ROOT / raw.path for role, raw in spec.raw.items()})


def test_minionerec_layout_round_trip(sample, tmp_path):
    _, prepared = sample
    index = read_index(SAMPLE / "indexes" / "rqvae_native.index.json.gz", n_items=len(prepared.items))
    export_minionerec(prepared, index, tmp_path, "Scientific")
    files = {s: tmp_path / f"{s}.csv" for s in ("train", "valid", "test")}
    files |= {"item": tmp_path / "Scientific.item.json", "index": tmp_path / "Scientific.index.json"}
    spec = DatasetSpec(name="back", source="minionerec_release", raw={}, protocol="loo", split_history=50,
                       title_filter=True, window=None, kcore=5, dedup=False, description="")
    back = release_to_prepared(spec, files)
    for name in ("train", "valid", "test"):
        ours, theirs = prepared.splits[name], back.splits[name]
        assert theirs["user_id"].tolist() == ours["user_id"].tolist()
        assert theirs["history"].tolist() == ours["history"].tolist()
        assert theirs["target"].tolist() == ours["target"].tolist()
    assert back.items["title"].tolist() == prepared.items["title"].tolist()
    info = (tmp_path / "info.txt").read_text().splitlines()
    assert len(info) == 4_344 and info[0].split("\t") == ["<a_70><b_138><c_190><d_249>",
                                                         prepared.items["title"][0], "0"]


def test_minionerec_export_needs_an_index_covering_every_item(sample, tmp_path):
    _, prepared = sample
    with pytest.raises(GenrecError, match="lacks 1 of the dataset's items"):
        export_minionerec(prepared, {i: ["<a_1>"] for i in range(4_343)}, tmp_path, "x")
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_lcrec_layout_round_trip(sample, tmp_path):
    spec, prepared = sample
    inter, item = export_lcrec(prepared, tmp_path, "Scientific")
    back = preprocess(spec, {"inter": inter, "item": item})
    assert back.interactions[["user_id", "item_id", "timestamp"]].equals(
        prepared.interactions[["user_id", "item_id", "timestamp"]])
    assert back.items.drop(columns="categories").equals(prepared.items.drop(columns="categories"))
    assert back.items["categories"].tolist() == prepared.items["categories"].tolist()
