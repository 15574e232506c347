# recserve developer entry point. `make help` lists the targets.
# The same commands run in CI (.ci/run -> `make test`) and in the Dockerfile.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ML100K ?= ../shared/data/ml-100k

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "} {printf "  %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[train,dev]'
	touch $@

install: $(VENV)/.installed ## create .venv with torch (CPU) and every extra

redis: ## make sure a Redis answers on 127.0.0.1:6379 (tests use it)
	@redis-cli -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --port 6379 --save ""

lint: install ## ruff, ruff format --check, mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy service export training

test: install redis lint ## the whole suite (what CI runs)
	$(VENV)/bin/pytest -q

demo: install ## synthetic demo log, then every baseline on it
	$(VENV)/bin/recserve generate --out data/demo --seed 0
	$(VENV)/bin/recserve evaluate --data data/demo --format recbole --protocol leave-last-out \
		--k 10,20,50 --json reports/demo_baselines.json

bench-baselines: install ## ML-100K baseline tables (leave-last-out and user-holdout)
	$(VENV)/bin/recserve evaluate --data $(ML100K) --format recbole --protocol leave-last-out \
		--k 10,20,50 --json reports/ml100k_leave_last_out.json
	$(VENV)/bin/recserve evaluate --data $(ML100K) --format recbole --protocol user-holdout \
		--k 20,50,100 --json reports/ml100k_user_holdout.json

bench-ease: install ## EASE fit time and memory up to 25,000 items
	$(PY) benchmarks/ease_scaling.py --json reports/ease_scaling.json

clean: ## remove the venv, caches and generated data
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache data reports runs bundles

.PHONY: help install redis lint test demo bench-baselines bench-ease clean
