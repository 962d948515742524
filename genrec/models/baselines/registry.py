"""The sequential baselines by name (config `baselines` / the `{baseline}` wildcard)."""

from __future__ import annotations

from genrec.errors import GenrecError
from genrec.models.baselines.caser import Caser
from genrec.models.baselines.gru4rec import GRU4Rec
from genrec.models.baselines.sasrec import SASRec
from genrec.models.baselines.sequential import SequentialRecommender
from genrec.models.baselines.settings import MODEL_CONFIGS

SEQUENTIAL = {name: (model, MODEL_CONFIGS[name]) for name, model in
              {"sasrec": SASRec, "gru4rec": GRU4Rec, "caser": Caser}.items()}


def model_class(name: str) -> tuple[type[SequentialRecommender], type]:
    if name not in SEQUENTIAL:
        raise GenrecError(f"unknown sequential baseline {name!r}", key="baselines", fix=f"use one of {sorted(SEQUENTIAL)}")
    return SEQUENTIAL[name]


def build_model(name: str, settings: dict, n_items: int, n_users: int = 0) -> SequentialRecommender:
    """A freshly initialised model from its architecture settings (`baseline_models.<name>`, an unknown key is an
    error naming it) for a dataset of `n_items` (and `n_users`, for a model with a user embedding)."""
    cls, config_cls = model_class(name)
    sizes = {"n_items": n_items} | ({"n_users": n_users} if "n_users" in config_cls.__dataclass_fields__ else {})
    return cls(config_cls.from_config(settings, key=f"baseline_models.{name}", **sizes))


def load_model(name: str, path: str) -> SequentialRecommender:
    cls, _ = model_class(name)
    try:
        return cls.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise GenrecError(f"cannot load a trained {name} model ({exc})", path=path,
                          fix="re-run its training rule") from None
