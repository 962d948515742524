"""The experiment grid of a config: every metrics file it produces, with the identity of each run.

One definition for the Snakefile (`rule all` / the leaderboard's inputs) and the dashboard's pipeline page:
datasets x sid_tokenizers x sft_backbones (SFT, then the RL rewards on rl.tokenizers, on test and, with
rl.compare_on_valid, on valid) plus the baselines (TIGER on each of tiger.tokenizers).
"""

from __future__ import annotations


def reward_of(stage: str) -> str:
    """The RL reward of a stage (`rl-ranking` -> ranking); `none` for SFT and the baselines."""
    return stage[3:] if stage.startswith("rl-") else "none"


def grid_runs(config: dict) -> list[dict]:
    """One dict per metrics file: dataset, method, tokenizer, backbone, stage, reward, split, metrics (path under
    the results root)."""
    rl = config.get("rl", {})
    rl_tokenizers = rl.get("tokenizers", []) if rl.get("rewards") else []
    runs = []

    def add(dataset, method, tokenizer, backbone, stage, split, path):
        runs.append({"dataset": dataset, "method": method, "tokenizer": tokenizer, "backbone": backbone,
                     "stage": stage, "reward": reward_of(stage), "split": split, "metrics": path})

    for dataset in config.get("datasets", []):
        for tokenizer in config.get("sid_tokenizers", []):
            for backbone in config.get("sft_backbones", []):
                stages = ["sft"] + ([f"rl-{r}" for r in rl["rewards"]] if tokenizer in rl_tokenizers else [])
                splits = ["test", "valid"] if tokenizer in rl_tokenizers and rl.get("compare_on_valid", True) \
                    else ["test"]
                for stage in stages:
                    for split in splits:
                        suffix = "" if split == "test" else ".valid"
                        add(dataset, "minionerec", tokenizer, backbone, stage, split,
                            f"metrics/{dataset}/{tokenizer}/{backbone}/{stage}{suffix}.json")
        for baseline in config.get("baselines", []):
            if baseline == "tiger":
                tiger = config.get("tiger", {})
                backbone = tiger.get("backbone", "tiger")
                for tokenizer in tiger.get("tokenizers", []):
                    add(dataset, "tiger", tokenizer, backbone, "tiger", "test",
                        f"metrics/{dataset}/{tokenizer}/{backbone}/tiger.json")
            else:
                add(dataset, baseline, None, None, baseline, "test", f"metrics/{dataset}/baselines/{baseline}.json")
    return runs
