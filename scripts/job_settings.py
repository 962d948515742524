"""Every job's resolved settings in a Snakemake plan, as JSON: what a refactor of the config plumbing must leave
unchanged (issue 16: dump before and after, then diff).

    python -m snakemake -n -p --forceall [--configfile ...] > plan.txt
    python scripts/job_settings.py plan.txt > settings.json

Each job (rule + outputs) maps to the values its command resolves from `--settings` through the settings
dataclasses, with every default filled. Prediction and RL take their prompts and prompt history cap from the
checkpoint they decode from; here they come from the plan's job that trains that checkpoint. Resources and
threads are the plan's own lines.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genrec.data.spec import load_datasets  # noqa: E402
from genrec.embed.encode import EncoderSpec  # noqa: E402
from genrec.evaluate.settings import EvalSettings  # noqa: E402
from genrec.rl.settings import RLSettings  # noqa: E402
from genrec.settings import BaselineJob, EvaluateJob, SFTJob  # noqa: E402
from genrec.tokenize.build import TokenizerSpec  # noqa: E402


def plan_jobs(text: str) -> list[dict]:
    """rule, output, resources, threads and the shell command's options of every job of `snakemake -n -p`."""
    jobs = []
    for block in re.split(r"\n\[[A-Z][a-z]{2} .*?\]\n", text)[1:]:
        rule = re.match(r"(?:local)?rule (\w+):", block)
        command = re.search(r"^Shell command: (.*)$", block, re.M)
        if not rule or not command:
            continue
        job = {"rule": rule.group(1)}
        for key in ("output", "resources", "threads"):
            line = re.search(rf"^    {key}: (.*)$", block, re.M)
            job[key] = line.group(1) if line else None
        argv = shlex.split(command.group(1).split(" 2> ")[0].split(" > ")[0])
        options: dict[str, list[str]] = {}
        key = None
        for word in argv:
            if word.startswith("--"):
                key = word[2:]
                options.setdefault(key, [])
            elif key:
                options[key].append(word)
        job["options"] = options
        jobs.append(job)
    return jobs


def resolved(jobs: list[dict], datasets_file: str) -> dict:
    trained = {}      # model directory -> (templates, prompt_history) of the job that trains it
    for job in jobs:
        if job["rule"] == "sft":
            sft = SFTJob.from_json(job["options"]["settings"][0])
            trained[job["options"]["out"][0]] = (sft.prompts.templates, sft.sft.prompt_history)
    out = {}
    for job in jobs:
        rule, options = job["rule"], job["options"]
        text = options.get("settings", [None])[0]
        if rule == "embed":
            values = EncoderSpec.from_json(text).to_dict()
        elif rule == "tokenize":
            values = TokenizerSpec.from_json(text).to_dict()
        elif rule == "sft":
            sft = SFTJob.from_json(text)
            values = {"backbone": sft.backbone.to_dict(), "sft": sft.sft.to_dict(), "templates": sft.prompts.templates}
        elif rule == "rl":
            templates, history = trained[options["sft-model"][0]]
            values = {"rl": RLSettings.from_json(text).to_dict(), "templates": templates, "prompt_history": history,
                      "reward": options["reward"][0]}
        elif rule == "predict_shard":
            model = options["model"][0]
            templates, history = trained[re.sub(r"/rl-\w+$", "/sft", model)]
            values = {"evaluate": EvalSettings.from_json(text).to_dict(), "templates": templates,
                      "prompt_history": history}
        elif rule == "evaluate":
            job_settings = EvaluateJob.from_json(text)
            run = job_settings.run.to_dict()
            values = {"evaluate": job_settings.evaluate.to_dict(), **{k: run[k] for k in
                      ("dataset", "tokenizer", "backbone", "stage", "method", "seed")}, "split": options["split"][0]}
        elif rule == "train_baseline":
            baseline = BaselineJob.from_json(text)
            values = {"model": {**baseline.model, "n_items": 0}, "training": baseline.training.to_dict(),
                      "mask_history": baseline.mask_history}
        elif rule in ("evaluate_baseline", "mostpop"):
            job_settings = EvaluateJob.from_json(text)
            values = {"ks": list(job_settings.evaluate.ks), "mask_history": job_settings.evaluate.mask_history,
                      "dataset": job_settings.run.dataset}
            if rule == "evaluate_baseline":
                values |= {"training": job_settings.provenance["training"], "seed": job_settings.run.seed}
        elif rule == "preprocess":
            spec = load_datasets(datasets_file)[options["dataset"][0]]
            values = {"protocol": spec.protocol, "split_history": spec.split_history, "kcore": spec.kcore}
        else:
            values = {}
        out[f"{rule} {job['output']}"] = {"resolved": values, "resources": job["resources"], "threads": job["threads"]}
    return out


if __name__ == "__main__":
    plan = Path(sys.argv[1]).read_text()
    datasets_file = sys.argv[2] if len(sys.argv) > 2 else "config/datasets.yaml"
    print(json.dumps(resolved(plan_jobs(plan), datasets_file), indent=1, sort_keys=True))
