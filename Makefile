# Two set-up commands for a newcomer: `make test` and `make demo`. Both create .venv themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel of torch that lies on this machine's disk; a venv that already has torch (e.g. a CUDA
# build the user installed) keeps it.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install test test-all demo check format bench experts clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) setup.cfg pyproject.toml
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

test-all: $(STAMP)
	$(PY) -m pytest -q -m "slow or not slow"

demo: $(STAMP)
	$(VENV)/bin/ttt-gym demo

check: $(STAMP)
	$(VENV)/bin/ruff check ttt_gym envs tests examples scripts benchmarks
	$(VENV)/bin/ruff format --check ttt_gym envs tests examples scripts benchmarks
	$(VENV)/bin/mypy ttt_gym envs

format: $(STAMP)
	$(VENV)/bin/ruff check --fix ttt_gym envs tests examples scripts benchmarks
	$(VENV)/bin/ruff format ttt_gym envs tests examples scripts benchmarks

# Success of experts, demonstrators and random policies -> docs/EXPERTS.md (a few minutes on 2 cores).
bench: $(STAMP)
	$(PY) scripts/expert_table.py --episodes 200 --output docs/EXPERTS.md

# Retrain the shipped PPO experts of masked CartPole / Acrobot (minutes on 2 cores).
experts: $(STAMP)
	$(PY) -m ttt_envs.experts.train_ppo --env all

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
