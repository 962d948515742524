"""RL: the four rewards on hand-made groups, constrained rollouts, RL prompts, a short GRPO run, bad input."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SAMPLE_INDEX, first_users, short_templates, tiny_backbone

from genrec.errors import GenrecError
from genrec.evaluate.constrained import SIDTrie
from genrec.evaluate.predict import trie_groups
from genrec.models.backbone import load_backbone
from genrec.models.baselines.registry import build_model
from genrec.models.sid_vocab import sid_token_ids
from genrec.rl.data import rl_examples, unique_prompts
from genrec.rl.rewards import (cf_reward, group_hit, rank_penalties, ranking_reward, rule_reward, semantic_reward,
                               trl_reward_functions)
from genrec.prompts import ItemText, recommendation_prompt, stage_templates
from genrec.rl.rollout import SIDRollout
from genrec.rl.train import RLSettings, run_rl
from genrec.sft.train import SFTSettings, run_sft
from genrec.tokenize.index import read_index

TEMPLATES = short_templates()
TINY = tiny_backbone()


# --- rewards on hand-made groups -------------------------------------------------------------------------------

def test_rule_reward_is_one_for_the_target_only():
    assert rule_reward([5, 7, 9], [7, 7, 7]) == [0.0, 1.0, 0.0]


def test_rank_penalties_follow_log_ranks_and_sum_to_minus_one():
    penalties = rank_penalties(4)
    assert penalties.sum() == pytest.approx(-1.0)
    raw = np.array([-1 / math.log2(r + 2) for r in range(4)])
    np.testing.assert_allclose(penalties, raw / -raw.sum())
    assert (np.diff(penalties) > 0).all()            # the higher a wrong candidate ranks, the larger its penalty


def test_ranking_reward_on_a_group_with_the_target():
    group = [3, 8, 5, 1]                              # target 5 at rank 2
    rewards = ranking_reward(group, [5] * 4, [0, 1, 2, 3], [group] * 4)
    penalties = rank_penalties(4)
    assert rewards == pytest.approx([penalties[0], penalties[1], 1.0, penalties[3]])
    assert rewards[0] < rewards[1] < rewards[3] < 0 < rewards[2]


def test_ranking_reward_is_zero_for_a_group_that_misses_the_target():
    group = [3, 8, 5, 1]
    assert ranking_reward(group, [9] * 4, [0, 1, 2, 3], [group] * 4) == [0.0] * 4


def test_semantic_reward_is_the_cosine_of_candidate_and_target():
    embeddings = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    assert semantic_reward([0, 1, 2], [0, 0, 0], embeddings) == pytest.approx([1.0, 0.0, math.sqrt(0.5)])


def test_cf_reward_is_sasrecs_probability_and_none_without_history():
    torch.manual_seed(0)
    sasrec = build_model("sasrec", {"hidden_size": 8, "num_layers": 1, "num_heads": 1, "max_length": 5}, 6)
    rewards = cf_reward([2, 4, 1], [[0, 1], [0, 1], []], sasrec)
    sasrec.eval()
    with torch.no_grad():
        probability = torch.softmax(sasrec.scores(sasrec.encode(torch.tensor([[0, 1]]))[:, -1]), dim=-1)[0]
    assert rewards[:2] == pytest.approx([probability[2].item(), probability[4].item()], rel=1e-5)
    assert rewards[2] is None


def test_group_hit_marks_groups_that_contain_the_target():
    assert group_hit([1, 1, 9, 9], [[1, 2], [1, 2], [3, 4], [3, 4]]) == [1.0, 1.0, 0.0, 0.0]


def test_reward_names_and_requirements_are_checked():
    with pytest.raises(GenrecError, match="unknown reward 'ndcg'"):
        trl_reward_functions("ndcg")
    with pytest.raises(GenrecError, match="SASRec"):
        trl_reward_functions("cf")
    with pytest.raises(GenrecError, match="embeddings"):
        trl_reward_functions("semantic")
    reward, hit = trl_reward_functions("ranking")
    assert hit.__name__ == "group_hit"
    assert reward(completions=["", ""], item=[4, 2], target=[2, 2], rank=[0, 1], group=[[4, 2]] * 2) == \
        pytest.approx([rank_penalties(2)[0], 1.0])


# --- RL prompts ---------------------------------------------------------------------------------------------

def test_rl_prompts_mix_tasks_by_weight_and_keep_targets(sample):
    items, index, train = sample
    text = ItemText.build(items, index)
    templates = stage_templates(TEMPLATES, "rl")
    weights = {"seq_rec": 1.0, "title2sid": {"samples": 100}, "description2sid": {"samples": 30}}
    every = rl_examples(weights, None, templates, text, train, 5, seed=1)
    assert pd.Series([e.task for e in every]).value_counts().to_dict() == {
        "seq_rec": len(train), "title2sid": 100, "description2sid": 30}
    examples = rl_examples(weights, 400, templates, text, train, 5, seed=1)
    assert len(examples) == 400 and {e.task for e in examples} <= set(weights)
    for e in every:
        assert e.response == text.sids[e.target]
        if e.task == "seq_rec":
            assert 0 < len(e.history) <= 5
            assert e.prompt == recommendation_prompt(templates, text, list(e.history))   # the evaluation prompt
        elif e.task == "title2sid":
            assert e.history == () and text.titles[e.target] in e.prompt
        else:
            assert e.history == () and text.descriptions[e.target] in e.prompt
    assert len(unique_prompts(examples + examples[:5])) == len({e.prompt for e in examples})
    with pytest.raises(GenrecError, match="sid2title"):
        rl_examples({"sid2title": 1.0}, 10, templates, text, train, 5, seed=1)


# --- rollouts and a short GRPO run on a tiny SFT model ----------------------------------------------------------

@pytest.fixture(scope="module")
def small_data(tmp_path_factory, prepared_sample):
    return first_users(prepared_sample, tmp_path_factory.mktemp("rl") / "data")


@pytest.fixture(scope="module")
def sft_model(small_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("rl") / "sft"
    settings = SFTSettings(batch_size=64, micro_batch_size=64, epochs=1, learning_rate=3e-3, precision="float32")
    run_sft(TINY, settings, TEMPLATES, small_data, SAMPLE_INDEX, out, out.parent / "sft_work", threads=1)
    return out


class FakeTrainer:
    """What the rollout reads from TRL's trainer."""

    def __init__(self, model, process_index=0):
        from accelerate import Accelerator

        self.accelerator = Accelerator(cpu=True)
        self.accelerator.state.process_index = process_index
        self.model_wrapped = model
        self.state = type("State", (), {"global_step": 0})()


@pytest.mark.parametrize("mode", ["beam", "sample"])
def test_rollout_groups_are_valid_sids_and_beam_groups_unique(sft_model, small_data, mode):
    model, tokenizer = load_backbone(sft_model)
    index = read_index(SAMPLE_INDEX, n_items=4344)
    trie = SIDTrie(sid_token_ids(tokenizer, index))
    leaf_items = trie_groups(trie)
    rollout = SIDRollout(tokenizer, trie, leaf_items, num_generations=4, mode=mode, temperature=1.0, seed=0)
    prompts = ["history: " + "".join(index[i]) * 2 + "\nnext:" for i in (5, 6)]
    out = rollout([p for p in prompts for _ in range(4)], FakeTrainer(model))
    assert len(out["completion_ids"]) == len(out["item"]) == 8 and out["rank"] == [0, 1, 2, 3] * 2
    sids = {tuple(trie_path) for trie_path in trie.sequences()}
    for ids, item, group in zip(out["completion_ids"], out["item"], out["group"]):
        assert tuple(ids) in sids                          # a real SID, nothing after it (no EOS)
        assert item in group and leaf_items[int(trie.leaf_of_item[item])][0] == item
    if mode == "beam":
        assert len(set(out["group"][0])) == 4 and out["group"][0] == out["group"][3]


def test_include_target_puts_a_missed_target_last_and_logs_the_decoders_own_hits(sft_model):
    model, tokenizer = load_backbone(sft_model)
    index = read_index(SAMPLE_INDEX, n_items=4344)
    item_tokens = sid_token_ids(tokenizer, index)
    trie = SIDTrie(item_tokens)
    leaf_items = trie_groups(trie)
    prompt = "history: " + "".join(index[9]) + "\nnext:"
    plain = SIDRollout(tokenizer, trie, leaf_items, num_generations=4, mode="beam", temperature=1.0,
                       seed=0)([prompt] * 4, FakeTrainer(model))
    found, missed = plain["item"][1], next(i for i in range(4344) if i not in plain["group"][0]
                                            and leaf_items[int(trie.leaf_of_item[i])][0] == i)
    for target, hit in ((found, 1.0), (missed, 0.0)):
        rollout = SIDRollout(tokenizer, trie, leaf_items, num_generations=4, mode="beam", temperature=1.0, seed=0,
                             targets={prompt: target}, include_target=True, item_tokens=item_tokens)
        out = rollout([prompt] * 4, FakeTrainer(model))
        assert out["decoded_hit"] == [hit] * 4
        if hit:
            assert out["item"] == plain["item"]                    # a found target changes nothing
        else:
            assert out["item"] == plain["item"][:3] + [missed]     # the last candidate makes way for it
            assert out["completion_ids"][3] == item_tokens[missed].tolist()


def test_a_group_split_over_two_processes_is_decoded_alike(sft_model):
    model, tokenizer = load_backbone(sft_model)
    index = read_index(SAMPLE_INDEX, n_items=4344)
    trie = SIDTrie(sid_token_ids(tokenizer, index))
    rollout = SIDRollout(tokenizer, trie, trie_groups(trie), num_generations=4, mode="beam", temperature=1.0, seed=0)
    prompts = ["history: " + "".join(index[i]) + "\nnext:" for i in (7, 8)]
    batch = [p for p in prompts for _ in range(4)]
    whole = rollout(batch, FakeTrainer(model))
    first = rollout(batch[:3], FakeTrainer(model, 0))
    # process 1 of two holding 3 completions each would start at global position 3: rank 3 of group 0
    second = rollout(batch[3:6], FakeTrainer(model, 1))
    assert first["item"] + second["item"] == whole["item"][:6]
    assert second["rank"] == [3, 0, 1]


def test_two_grpo_steps_change_the_weights_and_log_every_step(sft_model, small_data, tmp_path):
    settings = RLSettings(max_samples=16, num_generations=4, batch_size=32, micro_batch_size=16, epochs=1,
                          learning_rate=1e-2, precision="float32", beta=1e-3)
    info = run_rl(sft_model, "ranking", settings, small_data, tmp_path / "rl", tmp_path / "work", threads=1)
    assert info["steps"] == 2 and info["stage"] == "rl-ranking"
    before, _ = load_backbone(sft_model)
    after, _ = load_backbone(tmp_path / "rl")
    changed = [name for (name, a), (_, b) in zip(before.named_parameters(), after.named_parameters())
               if not torch.equal(a, b)]
    assert changed
    steps = [json.loads(line) for line in (tmp_path / "rl" / "rl_steps.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == [1, 2]
    assert all({"reward", "group_hit_rate", "kl", "loss"} <= set(s) for s in steps)
    assert not (tmp_path / "work").exists()


# --- bad input, before any training ---------------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    ({"num_generations": 1}, "num_generations 1 < 2"),
    ({"batch_size": 30, "micro_batch_size": 30}, "not divisible by num_generations"),
    ({"rollout": "greedy"}, "unknown rollout"),
])
def test_bad_rl_settings_are_refused_when_read(change, message):
    with pytest.raises(GenrecError, match=message):
        RLSettings.from_config({"num_generations": 4, "batch_size": 32, "micro_batch_size": 16, **change})


def test_unknown_reward_and_cf_without_sasrec_fail_before_training(tmp_path):
    settings = RLSettings(num_generations=4, batch_size=32, micro_batch_size=16)
    with pytest.raises(GenrecError, match="unknown reward 'hit'"):
        run_rl(tmp_path / "no-model", "hit", settings, tmp_path, tmp_path / "o", tmp_path / "w")
    with pytest.raises(GenrecError, match="needs a trained SASRec"):
        run_rl(tmp_path / "no-model", "cf", settings, tmp_path, tmp_path / "o", tmp_path / "w",
               scorer_dir=tmp_path / "sasrec")
    with pytest.raises(GenrecError, match="not a trained checkpoint"):
        run_rl(tmp_path / "no-model", "ranking", settings, tmp_path, tmp_path / "o", tmp_path / "w")
    assert not (tmp_path / "o").exists()


def test_unknown_rl_setting_is_named():
    with pytest.raises(GenrecError, match="num_generation"):
        RLSettings.from_config({"num_generation": 8})
