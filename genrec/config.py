"""Schema-validated configuration: YAML in, defaults filled from the schema, settings dataclasses built from it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from genrec.errors import GenrecError

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


def from_settings(config_class, settings: dict, key: str, what: str = "setting", context: str = "", **fixed):
    """Build a settings dataclass from a config mapping, naming every key it does not have."""
    import dataclasses

    allowed = {f.name for f in dataclasses.fields(config_class)} - set(fixed)
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise GenrecError(f"unknown {what}(s) {unknown}{context}", key=key, fix=f"allowed: {sorted(allowed)}")
    return config_class(**{**settings, **fixed})
