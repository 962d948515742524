"""Item attributes for the feature-aware baselines (FDSA, S3-Rec): S3-Rec's construction
(aHuiWang/CIKM2020-S3Rec @ 49a890d, data/data_process.py): an item's brand and every category of its category
paths but the top level, which every item of a dataset shares. The categories are stored flattened, so the top
level is the first category, dropped wherever it recurs."""

from __future__ import annotations

import pandas as pd

from genrec.errors import GenrecError

ATTRIBUTE_FIELDS = ("brand", "categories")


def item_attributes(items: pd.DataFrame, fields: list[str] | tuple[str, ...] = ATTRIBUTE_FIELDS
                    ) -> tuple[list[list[int]], list[str]]:
    """Per item (row i = item i) its attribute ids, 1-based and distinct in first-seen order, and the
    vocabulary (id k = vocabulary[k - 1], e.g. "brand:OPI", "categories:Nail Polish")."""
    unknown = sorted(set(fields) - set(ATTRIBUTE_FIELDS))
    if unknown:
        raise GenrecError(f"unknown attribute field(s) {unknown}", key="attribute_fields",
                          fix=f"use some of {list(ATTRIBUTE_FIELDS)}")
    ids: dict[str, int] = {}
    per_item = []
    for row in items.itertuples(index=False):
        names = []
        if "brand" in fields and row.brand:
            names.append(f"brand:{row.brand}")
        if "categories" in fields and len(row.categories):
            top = row.categories[0]
            names += [f"categories:{c}" for c in row.categories if c != top]
        per_item.append([ids.setdefault(name, len(ids) + 1) for name in dict.fromkeys(names)])
    return per_item, list(ids)
