#!/usr/bin/env bash
# Restore the pipeline's artifacts from the DVC remote so that Snakemake has nothing to rerun.
# `dvc pull` verifies every file against the hashes in dvc.lock but writes them in no particular order, so
# their modification times say nothing about which came first. Snakemake's provenance (params, code, inputs
# per output) comes back with them (.snakemake/metadata); the times are then set to one instant, the pull,
# so that no artifact looks older than its inputs, and anything edited after the pull still reruns.
# Usage: scripts/pull_artifacts.sh [dvc pull options]      (DVC=path/to/dvc to choose the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
"${DVC:-dvc}" pull "$@"
now=$(date +%s)
find results .snakemake/metadata -exec touch -d "@$now" {} +
