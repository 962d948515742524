"""docs/fidelity.md's recipe table against the config it describes: every row that names a genrec key states the
value `config/experiments/paper-minionerec.yaml` resolves to there (over config/config.yaml and the stages'
defaults). A setting changed in one place and not the other fails here."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from conftest import ROOT

from genrec import settings
from genrec.config import load_config

FIDELITY = ROOT / "docs" / "fidelity.md"
RECIPE = ROOT / "config" / "experiments" / "paper-minionerec.yaml"
NAMED = {"encoders": settings.encoder, "tokenizers": settings.tokenizer, "backbones": settings.backbone}


def recipe_rows() -> list[tuple[str, str, str]]:
    """(setting, key, value) of each row of the recipe table that names a key and a value."""
    text = FIDELITY.read_text()
    table = text[text.index("### The recipe"):]
    table = table[:table.index("\n### ")]
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or cells[0] in ("setting", "---"):
            continue
        key, value = (re.fullmatch(r"`([^`]+)`", c) for c in cells[3:5])
        if key and value:
            rows.append((cells[0], key.group(1), value.group(1)))
    return rows


def resolve(config: dict, key: str):
    """The value at `key` (`stage.field…` or `section[name].field…`) as the jobs see it, defaults filled."""
    match = re.fullmatch(r"(\w+)(?:\[([^\]]+)\])?((?:\.\w+)*)", key)
    section, name, path = match.group(1), match.group(2), [p for p in match.group(3).split(".") if p]
    if name is not None:
        value = NAMED[section](config, name).to_dict()
    elif section == "sft":
        value = settings.sft_training(config, "sft").to_dict()
    elif section == "rl":
        value = {**config["rl"], **settings.rl_training(config).to_dict()}
    elif section == "evaluate":
        value = settings.evaluation(config).to_dict()
    else:
        value = config[section]
        return value if not path else pytest.fail(f"no nested lookup under {section}")
    for part in path:
        value = value[part]
    return value


@pytest.fixture(scope="module")
def recipe() -> dict:
    return load_config(ROOT / "config" / "config.yaml", RECIPE)


def test_the_table_names_the_recipes_settings():
    keys = [key for _, key, _ in recipe_rows()]
    assert len(keys) >= 50 and len(keys) == len(set(keys)), "a key is listed twice"


@pytest.mark.parametrize("setting, key, value", recipe_rows(), ids=lambda v: v if isinstance(v, str) else None)
def test_a_table_row_states_what_the_recipe_resolves_to(recipe, setting, key, value):
    resolved = json.loads(json.dumps(resolve(recipe, key)))       # tuples as lists, as the table writes them
    assert resolved == yaml.safe_load(value), f"docs/fidelity.md row '{setting}' says {key} = {value}"
