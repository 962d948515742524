"""The sequential baselines by name (config `baselines` / the `{baseline}` wildcard)."""

from __future__ import annotations

import dataclasses

import pandas as pd

from genrec.data.attributes import item_attributes
from genrec.errors import GenrecError
from genrec.models.baselines.bert4rec import BERT4Rec
from genrec.models.baselines.caser import Caser
from genrec.models.baselines.fdsa import FDSA
from genrec.models.baselines.fmlprec import FMLPRec
from genrec.models.baselines.gru4rec import GRU4Rec
from genrec.models.baselines.hgn import HGN
from genrec.models.baselines.hstu import HSTU
from genrec.models.baselines.s3rec import S3Rec
from genrec.models.baselines.sasrec import SASRec
from genrec.models.baselines.sequential import SequentialRecommender, attribute_table
from genrec.models.baselines.settings import MODEL_CONFIGS

SEQUENTIAL = {name: (model, MODEL_CONFIGS[name]) for name, model in
              {"sasrec": SASRec, "gru4rec": GRU4Rec, "caser": Caser, "hgn": HGN, "fmlprec": FMLPRec,
               "bert4rec": BERT4Rec, "fdsa": FDSA, "s3rec": S3Rec, "hstu": HSTU}.items()}


def model_class(name: str) -> tuple[type[SequentialRecommender], type]:
    if name not in SEQUENTIAL:
        raise GenrecError(f"unknown sequential baseline {name!r}", key="baselines", fix=f"use one of {sorted(SEQUENTIAL)}")
    return SEQUENTIAL[name]


def build_model(name: str, settings: dict, n_items: int, n_users: int = 0,
                items: pd.DataFrame | None = None, has_timestamps: bool = False) -> SequentialRecommender:
    """A freshly initialised model from its architecture settings (`baseline_models.<name>`, an unknown key is an
    error naming it) for a dataset of `n_items` (and `n_users`, for a model with a user embedding; the item
    table `items`, for a model that reads item attributes). A model's time bias (HSTU's `time_buckets`) is on only
    where the dataset `has_timestamps`: an order-only source's ordinals are not times."""
    cls, config_cls = model_class(name)
    fields = config_cls.__dataclass_fields__
    sizes = {"n_items": n_items} | ({"n_users": n_users} if "n_users" in fields else {})

    attributes = None
    if "n_attributes" in fields:
        if items is None or len(items) != n_items:
            raise GenrecError(f"{name} reads item attributes: pass the dataset's item table", key=f"baseline_models.{name}")
        chosen = settings.get("attribute_fields", fields["attribute_fields"].default_factory())
        per_item, vocabulary = item_attributes(items, chosen)
        width = max((len(a) for a in per_item), default=0)
        if not vocabulary:
            raise GenrecError(f"no item has any of the attribute fields {chosen}", key=f"baseline_models.{name}.attribute_fields",
                              fix="choose fields the dataset's items have (brand, categories), or drop this baseline")
        sizes |= {"n_attributes": len(vocabulary), "attributes_per_item": width}
        attributes = attribute_table(per_item, width)
    config = config_cls.from_config(settings, key=f"baseline_models.{name}", **sizes)
    if "time_buckets" in fields and not has_timestamps:
        config = dataclasses.replace(config, time_buckets=0)
    model = cls(config)
    if attributes is not None:
        model.item_attributes.copy_(attributes)
    return model


def load_model(name: str, path: str) -> SequentialRecommender:
    cls, _ = model_class(name)
    try:
        return cls.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise GenrecError(f"cannot load a trained {name} model ({exc})", path=path,
                          fix="re-run its training rule") from None
