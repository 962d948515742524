"""Schema-validated configuration: YAML in, typed specs out, defaults filled from the schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from genrec.data.filters import TimeWindow
from genrec.errors import GenrecError

DEFAULT_MAX_HISTORY = {"time_811": 10, "loo": 50}


def load_schema(name: str) -> dict:
    return yaml.safe_load(resources.files("genrec.schemas").joinpath(name).read_text())


def _with_defaults(validator_class):
    """The jsonschema recipe for filling `default`s while validating (as Snakemake's `validate` does)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = sub["default"] if not isinstance(sub["default"], dict) else dict(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def validate(instance: Any, schema_name: str, source: str | Path) -> Any:
    """Validate in place (filling defaults); the first error names the file and the key path."""
    schema = load_schema(schema_name)
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        key = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise GenrecError(f"invalid configuration: {err.message}", path=source, key=key,
                          fix=f"see genrec/schemas/{schema_name} for the allowed keys and values")
    return instance


def read_yaml(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise GenrecError("configuration file not found", path=path)
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise GenrecError(f"not valid YAML ({getattr(exc, 'problem', exc)})", path=path,
                          line=mark.line + 1 if mark else None) from None


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
    name: str
    source: str
    raw: dict[str, RawFile]
    protocol: str
    max_history: int
    title_filter: bool = True
    window: WindowSpec | None = None
    kcore: int = 5
    dedup: bool = False
    description: str = ""
    settings: dict = field(default_factory=dict, compare=False)


def _spec(name: str, entry: dict) -> DatasetSpec:
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
        max_history=split.get("max_history", DEFAULT_MAX_HISTORY[split["protocol"]]),
        title_filter=filters["title"],
        window=window,
        kcore=filters["kcore"],
        dedup=filters["dedup"],
        description=entry["description"],
        settings=entry,
    )


def load_datasets(path: str | Path = "config/datasets.yaml") -> dict[str, DatasetSpec]:
    """Read and validate config/datasets.yaml."""
    document = validate(read_yaml(path), "datasets.schema.yaml", path)
    return {name: _spec(name, entry) for name, entry in document["datasets"].items()}


def dataset_spec(name: str, path: str | Path = "config/datasets.yaml") -> DatasetSpec:
    specs = load_datasets(path)
    if name not in specs:
        raise GenrecError(f"unknown dataset '{name}'", path=path, key=f"datasets.{name}",
                          fix=f"add it to {path} or use one of: {', '.join(sorted(specs))}")
    return specs[name]


def from_settings(config_class, settings: dict, key: str, what: str = "setting", context: str = "", **fixed):
    """Build a settings dataclass from a config mapping, naming every key it does not have."""
    import dataclasses

    allowed = {f.name for f in dataclasses.fields(config_class)} - set(fixed)
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise GenrecError(f"unknown {what}(s) {unknown}{context}", key=key, fix=f"allowed: {sorted(allowed)}")
    return config_class(**{**settings, **fixed})
