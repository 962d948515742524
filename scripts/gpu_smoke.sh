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
index=data/sample/indexes/rqvae_native.index.json.gz

settings() {   # one section of config/config.yaml as JSON (what the Snakemake rules pass)
  "$py" - "$@" <<'PY'
import json, sys, yaml
config = yaml.safe_load(open("config/config.yaml"))
print(json.dumps(eval(sys.argv[1], {"c": config})))
PY
}

"$py" -m genrec preprocess --dataset sample --out "$out/data/sample"
sft=$(settings '{"backbone": c["backbones"]["tiny"], "sft": {**c["sft"], "epochs": 2, "precision": "auto"}, "prompts": {"short": c["prompts"]["short"]}}')
"${launch[@]}" sft --data "$out/data/sample" --index "$index" --backbone tiny --settings "$sft" \
  --out "$out/models/sft" --work "$out/work/sft"
rl=$(settings '{"rl": {**c["rl"], "max_samples": 1024, "max_seconds": None}, "prompts": c["prompts"]["short"], "max_history": c["sft"]["max_history"]}')
"${launch[@]}" rl --sft-model "$out/models/sft" --reward ranking --data "$out/data/sample" --index "$index" \
  --settings "$rl" --out "$out/models/rl-ranking" --work "$out/work/rl"
for stage in sft rl-ranking; do
  predict=$(settings '{"evaluate": c["evaluate"], "prompts": c["prompts"]["short"], "max_history": c["sft"]["max_history"]}')
  "$py" -m genrec predict --model "$out/models/$stage" --data "$out/data/sample" --split test --index "$index" \
    --settings "$predict" --out "$out/predictions/$stage.shard0.jsonl"
  metrics=$(settings '{"evaluate": c["evaluate"], "dataset": "sample", "tokenizer": "rqvae_native", "backbone": "tiny", "stage": "'$stage'", "config": {}}')
  "$py" -m genrec evaluate --predictions "$out/predictions/$stage.shard0.jsonl" --data "$out/data/sample" --split test \
    --index "$index" --model "$out/models/$stage" --settings "$metrics" \
    --out-predictions "$out/predictions/$stage.jsonl" --out-metrics "$out/metrics/$stage.json"
done
