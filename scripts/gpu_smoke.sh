#!/usr/bin/env bash
# The GPU path once, end to end on the bundled sample: SFT of the `tiny` backbone in bf16 on CUDA under
# `accelerate launch` + DeepSpeed ZeRO-2, GRPO (ranking reward) from it the same way, then constrained
# beam-search evaluation of both on the test split. Small settings: a check that the path works, not a
# result. Usage: scripts/gpu_smoke.sh OUT_DIR [NUM_GPUS]
set -euo pipefail
out=${1:?usage: scripts/gpu_smoke.sh OUT_DIR [NUM_GPUS]}
gpus=${2:-1}
py=${PYTHON:-python3}
cd "$(dirname "$0")/.."
mkdir -p "$out"
launch=("$py" -m accelerate.commands.launch --config_file config/accelerate/deepspeed_zero2.yaml --num_processes "$gpus" -m genrec)
index=data/sample/indexes/rqvae_native.index.json.gz    # a bundled RQ-VAE index stands in for the tokenize stage

job() {   # a job's settings JSON, built by genrec.settings from config/config.yaml as the rules build it
  "$py" - "$@" <<'PY'
import sys
import yaml
from genrec import settings as s
from genrec.config import load_config, merged, validate
# the smoke test's changes to the quickstart: SFT 2 epochs, RL on 1,024 prompts without a time limit, one shard
overrides = yaml.safe_load("{sft: {epochs: 2}, rl: {max_samples: 1024, max_seconds: null}, evaluate: {shards: 1}}")
c = validate(merged(load_config("config/config.yaml"), overrides), "config.schema.yaml", "gpu_smoke")
d = yaml.safe_load(open(c["datasets_file"]))
print(eval(sys.argv[1], {"s": s, "c": c, "d": d}).to_json())
PY
}

"$py" -m genrec preprocess --dataset sample --datasets config/datasets.yaml --out "$out/data/sample" \
  --raw inter=data/sample/Scientific.inter.json.gz --raw item=data/sample/Scientific.item.json.gz
"${launch[@]}" sft --data "$out/data/sample" --index "$index" --settings "$(job 's.sft_job(c, "tiny", "sft")')" \
  --out "$out/models/sft" --work "$out/work/sft"
"${launch[@]}" rl --sft-model "$out/models/sft" --reward ranking --data "$out/data/sample" \
  --settings "$(job 's.rl_training(c)')" --out "$out/models/rl-ranking" --work "$out/work/rl"
for stage in sft rl-ranking; do
  "$py" -m genrec predict --model "$out/models/$stage" --data "$out/data/sample" --split test \
    --settings "$(job 's.evaluation(c)')" --shard 0 --out "$out/predictions/$stage.shard0.jsonl"
  "$py" -m genrec evaluate --predictions "$out/predictions/$stage.shard0.jsonl" --data "$out/data/sample" --split test \
    --model "$out/models/$stage" --settings "$(job 's.evaluate_job(c, d, "sample", "rqvae", "tiny", "'$stage'")')" \
    --out-predictions "$out/predictions/$stage.jsonl" --out-metrics "$out/metrics/$stage.json"
done
