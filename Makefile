# Two commands on a fresh machine: `make run` (the pipeline on the bundled data) and `make test`.
# Both create .venv when missing and install the pinned dependencies first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements/lock.txt
STAMP := $(VENV)/.installed
CORES ?= 2
RESULTS ?= results

.PHONY: install run test test-slurm system-deps bench dryrun push pull dashboard lock clean install-gpu

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(LOCK) torch==2.13.0 -e '.[dev]'
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --profile profiles/local --cores $(CORES) --config results=$(RESULTS)
	@$(BIN)/genrec stats $(RESULTS)/data/*/stats.json $(RESULTS)/sid/*/*/stats.json
	@echo; $(BIN)/genrec results $$(find $(RESULTS)/metrics -name '*.json' ! -name '*.perplexity.json' \
	  ! -name '*.item_understanding.json' ! -name '*.query_rec.json' | sort)
	@echo; echo "Leaderboard: $(RESULTS)/leaderboard.csv. Open the dashboard: make dashboard RESULTS=$(RESULTS)"

# Debian packages the tests need: a one-node SLURM cluster (tests/test_slurm.py) and a headless browser
# (the dashboard's end-to-end test). Installed when missing; `make test` then requires those tests to run.
SYSTEM_PACKAGES := slurmctld slurmd slurm-client munge chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	    --no-install-recommends $$missing >/dev/null; fi

test: $(STAMP) system-deps
	$(BIN)/lint-imports    # the layers of pyproject.toml [tool.importlinter]
	GENREC_REQUIRE_SYSTEM_DEPS=1 $(BIN)/python -m pytest --durations=15

test-slurm: $(STAMP) system-deps
	GENREC_REQUIRE_SYSTEM_DEPS=1 $(BIN)/python -m pytest tests/test_slurm.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_preprocess.py
	$(BIN)/python benchmarks/bench_sid.py
	$(BIN)/python benchmarks/bench_decoding.py
	$(BIN)/python benchmarks/bench_sft.py
	$(BIN)/python benchmarks/bench_baselines.py
	$(BIN)/python benchmarks/bench_rl.py
	$(BIN)/python benchmarks/bench_dryrun.py
	$(BIN)/python benchmarks/bench_dashboard.py

# DVC: record and upload what the pipeline built (results/ + Snakemake's provenance), or restore it.
push: $(STAMP)
	mkdir -p results/openonerec results/general    # dvc.yaml outs; empty where the grid does not train OpenOneRec
	$(BIN)/dvc commit --force pipeline
	$(BIN)/dvc push

pull: $(STAMP)
	DVC=$(BIN)/dvc scripts/pull_artifacts.sh

# The leaderboard app on a results directory (read-only): http://localhost:$(PORT). It listens on this machine
# only; `make dashboard ADDRESS=0.0.0.0` serves it to the network.
PORT ?= 8501
ADDRESS ?= 127.0.0.1
dashboard: $(STAMP)
	GENREC_RESULTS=$(abspath $(RESULTS)) $(BIN)/streamlit run dashboard/app.py --server.address $(ADDRESS) \
	  --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

dryrun: $(STAMP)
	$(BIN)/snakemake -n --cores $(CORES)

# GPU clusters: CUDA torch from the PyTorch index (same version as the CPU pin) plus the `gpu` extra.
TORCH_CUDA_INDEX ?= https://download.pytorch.org/whl/cu128
install-gpu: $(STAMP)
	$(BIN)/python -m pip install --force-reinstall torch==2.13.0 --index-url $(TORCH_CUDA_INDEX)
	$(BIN)/python -m pip uninstall -y faiss-cpu  # faiss-gpu provides the same `faiss` module
	$(BIN)/python -m pip install -e '.[gpu]'

# Re-resolve the lock in a throw-away venv (run after changing dependencies in pyproject.toml).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet torch==2.13.0 '.[dev]'
	{ head -2 $(LOCK); .lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^genrec' \
	  | sed 's/^torch==\([0-9.]*\)+cpu$$/torch==\1/'; } > $(LOCK).new
	mv $(LOCK).new $(LOCK) && rm -rf .lock-venv

clean:
	rm -rf $(RESULTS) .snakemake
