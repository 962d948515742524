"""S-DPO (genrec.sdpo): the softmax-DPO loss against hand-computed values and its reduction to DPO with one negative;
negatives never share the target's title; a response's log-probability as the batch layout computes it equals
teacher forcing; and a few optimizer steps raise the preferred title against the negatives, the reference frozen."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from conftest import TITLES, title_model

from genrec.errors import GenrecError
from genrec.prompts import ItemText, Template
from genrec.sdpo.loss import softmax_dpo_loss
from genrec.sdpo.settings import SDPOSettings
from genrec.sdpo.train import (PreferenceCollator, PreferenceDataset, SoftmaxDPOTrainer, preferences,
                               response_logps, sample_negatives)

TEMPLATE = Template(prompt="history: {history}\nnext: ", response='"{title}"\n')
TEXT = ItemText(sids=[""] * len(TITLES), titles=TITLES, descriptions=[""] * len(TITLES))


def test_softmax_dpo_loss_is_the_hand_computed_value():
    # -log sigmoid(-log sum_j exp(beta (r_j - r_w))) = log(1 + sum_j exp(beta (r_j - r_w)))
    chosen = torch.tensor([0.5, -1.0])
    rejected = torch.tensor([[0.2, 1.0, -0.3], [-1.0, -2.0, 0.0]])
    loss = softmax_dpo_loss(chosen, rejected, beta=1.0)
    assert loss[0].item() == pytest.approx(1.345177, abs=1e-6)           # log(1 + e^-0.3 + e^0.5 + e^-0.8)
    assert loss[1].item() == pytest.approx(math.log(1 + 1 + math.exp(-1.0) + math.exp(1.0)), abs=1e-6)
    assert softmax_dpo_loss(chosen, rejected, beta=2.0)[0].item() == pytest.approx(
        math.log(1 + math.exp(-0.6) + math.exp(1.0) + math.exp(-1.6)), abs=1e-6)
    # the authors' form, -logsigmoid(-log(sum(exp(...)))), written out
    authors = -F.logsigmoid(-torch.log(torch.exp(rejected - chosen[:, None]).sum(dim=1)))
    torch.testing.assert_close(loss, authors)


def test_with_one_negative_it_is_dpo():
    chosen, rejected = torch.randn(16), torch.randn(16, 1)
    for beta in (0.1, 1.0, 3.0):
        dpo = -F.logsigmoid(beta * (chosen - rejected[:, 0]))
        torch.testing.assert_close(softmax_dpo_loss(chosen, rejected, beta), dpo)


def test_negatives_are_distinct_items_with_another_title():
    rng = np.random.default_rng(0)
    for target in (2, 5):                       # items 2 and 5 share "Digital Caliper"
        for _ in range(50):
            drawn = sample_negatives(target, TITLES, 3, rng)
            assert len(set(drawn)) == 3 and all(TITLES[i] != TITLES[target] for i in drawn)
    rows = pd.DataFrame({"user_id": [0, 1, 2], "history": [[0], [1, 3], [4]], "target": [2, 6, 0]})
    prefs = preferences(rows, TEXT, {"title_hist2title": TEMPLATE}, 10, 3, seed=1)
    assert [p.chosen for p in prefs] == [2, 6, 0] and prefs[1].prompt == 'history: "Nitrile Gloves, Box of 100, Large", "Safety Goggles"\nnext: '
    assert prefs == preferences(rows, TEXT, {"title_hist2title": TEMPLATE}, 10, 3, seed=1)    # drawn once per seed
    assert len(preferences(rows, TEXT, {"title_hist2title": TEMPLATE}, 10, 3, seed=1, max_samples=2)) == 2
    with pytest.raises(GenrecError, match="distinct titles"):
        preferences(rows, TEXT, {"title_hist2title": TEMPLATE}, 10, 6, seed=1)


def teacher_forced(model, tokenizer, prompt: str, title: str) -> float:
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer = tokenizer(TEMPLATE.title_response(title), add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=torch.tensor([ids + answer])).logits[0, :-1].float(), dim=-1)
    return float(sum(logp[len(ids) - 1 + i, t] for i, t in enumerate(answer)))


def test_batched_response_log_probabilities_are_teacher_forcing():
    model, tokenizer = title_model(TITLES, TEMPLATE)
    rows = pd.DataFrame({"user_id": [0, 1], "history": [[0, 1, 3, 4], [6]], "target": [2, 3]})
    prefs = preferences(rows, TEXT, {"title_hist2title": TEMPLATE}, 10, 2, seed=0)
    dataset = PreferenceDataset(prefs, TEXT, TEMPLATE, tokenizer, max_length=512)
    batch = PreferenceCollator(tokenizer.pad_token_id)([dataset[0], dataset[1]])
    assert batch["input_ids"].shape[0] == 3 * 2                     # [chosen x 2; negative 1 x 2; negative 2 x 2]
    with torch.no_grad():
        logps = response_logps(model, batch).view(3, 2)
    for row, pref in enumerate(prefs):
        for j, item in enumerate((pref.chosen, *pref.rejected)):
            assert logps[j, row].item() == pytest.approx(teacher_forced(model, tokenizer, pref.prompt, TITLES[item]),
                                                         abs=1e-3)


def test_training_steps_prefer_the_target_and_leave_the_reference_alone(tmp_path):
    from transformers import TrainingArguments

    model, tokenizer = title_model(TITLES, TEMPLATE)
    reference, _ = title_model(TITLES, TEMPLATE)
    frozen = {k: v.clone() for k, v in reference.state_dict().items()}
    rows = pd.DataFrame({"user_id": range(8), "history": [[i % 7] for i in range(8)], "target": [(i + 1) % 7 for i in range(8)]})
    prefs = preferences(rows, TEXT, {"title_hist2title": TEMPLATE}, 10, 3, seed=0)
    dataset = PreferenceDataset(prefs, TEXT, TEMPLATE, tokenizer, max_length=512)
    collator = PreferenceCollator(tokenizer.pad_token_id)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=8, learning_rate=3e-3,
                             num_train_epochs=15, lr_scheduler_type="constant", logging_steps=1, report_to=[],
                             save_strategy="no", remove_unused_columns=False, use_cpu=True, disable_tqdm=True)
    trainer = SoftmaxDPOTrainer(model=model, args=args, train_dataset=dataset, data_collator=collator,
                                ref_model=reference, beta=1.0, negatives=3)
    batch = collator([dataset[i] for i in range(len(dataset))])
    before = trainer.compute_loss(model.eval(), batch).item()
    assert before == pytest.approx(math.log(4), abs=1e-5)            # policy = reference: every ratio is 0
    trainer.train()
    after = trainer.compute_loss(model.eval(), batch).item()
    assert after < before - 0.5
    logged = [entry for entry in trainer.state.log_history if "rewards/accuracy" in entry]
    assert logged and logged[-1]["rewards/accuracy"] > logged[0]["rewards/accuracy"]
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(value, frozen[key])


def test_sdpo_settings_name_the_bad_key():
    with pytest.raises(GenrecError, match="at least one negative") as err:
        SDPOSettings(negatives=0)
    assert err.value.key == "sdpo.training.negatives"
    with pytest.raises(GenrecError, match="multiple of micro_batch_size"):
        SDPOSettings(batch_size=10, micro_batch_size=4)
