"""Schema-validated configuration, and the base of every settings dataclass.

The schema checks types and allowed values; a stage's settings dataclass holds that stage's defaults and its
own checks (the schema writes no default of a setting a dataclass holds: tests/test_settings.py walks both).
A rule passes a job's settings as `to_json()`; the command reads them back with `from_json()` of the same class.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, TypeVar

import jsonschema
import yaml

from genrec.errors import GenrecError

S = TypeVar("S", bound="Settings")

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


def merged(base: dict, override: dict) -> dict:
    """`override` on top of `base`, mapping by mapping (how Snakemake layers --configfile files)."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_config(*paths: str | Path) -> dict:
    """The experiment config from `paths` (later files override earlier ones), validated against
    config.schema.yaml with the grid's defaults filled: what the Snakefile's `config` holds."""
    config: dict = {}
    for path in paths:
        config = merged(config, read_yaml(path))
    return validate(config, "config.schema.yaml", " + ".join(str(p) for p in paths))


def from_settings(config_class, settings: Mapping, key: str, what: str = "setting", context: str = "", **fixed):
    """Build a settings dataclass from a config mapping, naming every key it does not have. A field typed as
    another settings dataclass is built from its mapping the same way; a tuple field takes a list."""
    if not isinstance(settings, Mapping):
        raise GenrecError(f"expected a mapping of {what}s, got {type(settings).__name__}", key=key)
    allowed = {f.name for f in dataclasses.fields(config_class)} - set(fixed)
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise GenrecError(f"unknown {what}(s) {unknown}{context}", key=key, fix=f"allowed: {sorted(allowed)}")
    hints = typing.get_type_hints(config_class)
    values = {name: _typed(hints[name], value, f"{key}.{name}") for name, value in settings.items()}
    return config_class(**{**values, **fixed})


def _typed(hint, value, key: str):
    """`value` as the field type `hint` wants it: a nested settings dataclass, or a tuple from a JSON list."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union \
        else (hint,)
    for option in options:
        if isinstance(option, type) and issubclass(option, Settings) and isinstance(value, Mapping):
            return option.from_config(value, key=key)
        if typing.get_origin(option) is tuple and isinstance(value, list):
            return tuple(value)
    return value


class Settings:
    """Base of the settings dataclasses: built from a config mapping (an unknown key is an error naming it),
    written as the JSON a rule passes to its command, and read back from it by the command."""

    KEY: typing.ClassVar[str] = "settings"     # where in the config these settings live (error messages)

    @classmethod
    def from_config(cls: type[S], settings: Mapping, key: str | None = None, **fixed) -> S:
        return from_settings(cls, settings, key or cls.KEY, f"{cls.KEY} setting", **fixed)

    def to_dict(self) -> dict:
        return json.loads(self.to_json())

    def to_json(self) -> str:
        # sorted: the same settings reached through another config file must not rerun a job
        return json.dumps(dataclasses.asdict(self), sort_keys=True)    # type: ignore[call-overload]

    @classmethod
    def from_json(cls: type[S], text: str, key: str | None = None) -> S:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GenrecError(f"--settings is not JSON ({exc})", key=key or cls.KEY) from None
        return cls.from_config(value, key=key)

    @classmethod
    def describe(cls) -> str:
        """The fields with their defaults, for a command's --help."""
        parts = []
        for f in dataclasses.fields(cls):    # type: ignore[arg-type]
            if f.default is not dataclasses.MISSING:
                parts.append(f"{f.name}={f.default!r}")
            elif f.default_factory is not dataclasses.MISSING:
                parts.append(f"{f.name}={f.default_factory()!r}")
            else:
                parts.append(f.name)
        return f"{cls.__name__}({', '.join(parts)})"
