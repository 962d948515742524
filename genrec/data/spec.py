"""Every dataset the pipeline knows (config/datasets.yaml, validated) as typed specs: raw files, filters, protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from genrec.config import read_yaml, validate
from genrec.data.filters import TimeWindow
from genrec.errors import GenrecError



@dataclass(frozen=True)
class RawFile:
    path: str | None = None
    url: str | None = None
    file: str | None = None
    sha256: str | None = None

    def local_path(self, raw_dir: Path) -> Path:
        """Where this file is read from: its own path, or the download rule's output."""
        return Path(self.path) if self.path else raw_dir / str(self.file)


@dataclass(frozen=True)
class WindowSpec:
    window: TimeWindow
    min_items: int
    earliest_start_year: int


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset of config/datasets.yaml. Its defaults are the schema's (datasets.schema.yaml), filled when the
    file is validated; the spec has none of its own."""

    name: str
    source: str
    raw: dict[str, RawFile]
    protocol: str
    split_history: int       # the split's history cap: a row keeps at most this many earlier items
    title_filter: bool
    window: WindowSpec | None
    kcore: int
    dedup: bool
    description: str
    prompt_category: str | None = None     # what prompts call the items ({category}; MiniOneRec's category_dict)
    published: dict | None = None     # what a paper's table of datasets states (source, users, items, interactions)
    settings: dict = field(default_factory=dict, compare=False)


def spec_of(name: str, entry: dict) -> DatasetSpec:
    """The spec of one validated entry of config/datasets.yaml."""
    filters = entry["filters"]
    window = None
    if filters["window"]:
        w = filters["window"]
        window = WindowSpec(TimeWindow.parse(w["start"], w["end"]), w["min_items"], w["earliest_start_year"])
    split = entry["split"]
    return DatasetSpec(
        name=name,
        source=entry["source"],
        raw={role: RawFile(**f) for role, f in entry["raw"].items()},
        protocol=split["protocol"],
        split_history=split["max_history"],
        title_filter=filters["title"],
        window=window,
        kcore=filters["kcore"],
        dedup=filters["dedup"],
        description=entry["description"],
        prompt_category=entry.get("prompt_category"),     # optional: only prompts that say {category} need it
        published=entry.get("published"),     # an optional section: most datasets have no published statistics
        settings=entry,
    )


def load_datasets(path: str | Path) -> dict[str, DatasetSpec]:
    """Read and validate config/datasets.yaml."""
    document = validate(read_yaml(path), "datasets.schema.yaml", path)
    return {name: spec_of(name, entry) for name, entry in document["datasets"].items()}


def dataset_spec(name: str, path: str | Path) -> DatasetSpec:
    return named_spec(validate(read_yaml(path), "datasets.schema.yaml", path), name, path)


def named_spec(document: dict, name: str, path: str | Path) -> DatasetSpec:
    """Dataset `name` of a validated datasets file (`path`: where it came from, for the error)."""
    if name not in document["datasets"]:
        raise GenrecError(f"unknown dataset '{name}'", path=path, key=f"datasets.{name}",
                          fix=f"add it to {path} or use one of: {', '.join(sorted(document['datasets']))}")
    return spec_of(name, document["datasets"][name])
