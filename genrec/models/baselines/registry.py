"""The sequential baselines by name (config `baselines` / the `{baseline}` wildcard)."""

from __future__ import annotations

from genrec.errors import GenrecError
from genrec.models.baselines.caser import Caser, CaserConfig
from genrec.models.baselines.gru4rec import GRU4Rec, GRU4RecConfig
from genrec.models.baselines.sasrec import SASRec, SASRecConfig
from genrec.models.baselines.sequential import SequentialRecommender

SEQUENTIAL = {"sasrec": (SASRec, SASRecConfig), "gru4rec": (GRU4Rec, GRU4RecConfig), "caser": (Caser, CaserConfig)}


def model_class(name: str) -> tuple[type[SequentialRecommender], type]:
    if name not in SEQUENTIAL:
        raise GenrecError(f"unknown sequential baseline {name!r}", key="baselines", fix=f"use one of {sorted(SEQUENTIAL)}")
    return SEQUENTIAL[name]


def build_model(name: str, settings: dict, n_items: int) -> SequentialRecommender:
    """A freshly initialised model from its config mapping (`baseline_models.<name>`)."""
    from genrec.config import from_settings

    cls, config_cls = model_class(name)
    return cls(from_settings(config_cls, settings, f"baseline_models.{name}", "model setting", n_items=n_items))


def load_model(name: str, path: str) -> SequentialRecommender:
    cls, _ = model_class(name)
    try:
        return cls.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise GenrecError(f"cannot load a trained {name} model ({exc})", path=path,
                          fix="re-run its training rule") from None
