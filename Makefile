# recserve developer entry point. `make help` lists the targets.
# The same commands run in CI (.ci/run -> `make test`) and in the Dockerfile.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ML100K ?= ../shared/data/ml-100k

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "} {printf "  %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e clients/python -e '.[train,dev]'
	touch $@

install: $(VENV)/.installed ## create .venv with torch (CPU) and every extra

redis: ## make sure a Redis answers on 127.0.0.1:6379 (tests use it)
	@redis-cli -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --port 6379 --save ""

lint: install ## ruff, ruff format --check, mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy bundle service export training clients/python/recserve_client

test: install redis lint serving-image-check ## the whole suite (what CI runs)
	$(VENV)/bin/pytest -q --durations=15

serving-image-check: install ## the Dockerfile's install steps without Docker: wheels -> clean venv, no torch
	$(VENV)/bin/hadolint Dockerfile
	rm -rf build/serve-wheels build/serve-venv build/client-venv
	$(PY) -m pip wheel --quiet --no-cache-dir --wheel-dir build/serve-wheels ./clients/python .
	$(PYTHON) -m venv build/serve-venv
	build/serve-venv/bin/python -m pip install --quiet --no-cache-dir --no-index \
		--find-links build/serve-wheels recserve
	build/serve-venv/bin/recserve serve --help > /dev/null
	build/serve-venv/bin/python -I -c "import sys, service.app; \
		bad = {'torch', 'training'} & set(sys.modules); sys.exit(f'serving imports {bad}' if bad else 0)"
	build/serve-venv/bin/python -I -c "import importlib.util as u, sys; \
		sys.exit('torch in the serving image' if u.find_spec('torch') else 0)"
	$(PYTHON) -m venv build/client-venv
	build/client-venv/bin/python -m pip install --quiet --no-cache-dir --no-index \
		--find-links build/serve-wheels recserve-client
	build/client-venv/bin/python -I -c "import importlib.util as u, sys, recserve_client; \
		bad = [m for m in ('numpy', 'service', 'recserve') if u.find_spec(m)]; \
		sys.exit(f'the client package pulls {bad}' if bad else 0)"

demo: install ## synthetic data -> LED -> bundle -> server on the embedded store (Ctrl-C stops)
	$(VENV)/bin/recserve demo

bench-baselines: install ## ML-100K baseline tables (leave-last-out and user-holdout)
	$(VENV)/bin/recserve evaluate --data $(ML100K) --format recbole --protocol leave-last-out \
		--k 10,20,50 --json reports/ml100k_leave_last_out.json
	$(VENV)/bin/recserve evaluate --data $(ML100K) --format recbole --protocol user-holdout \
		--k 20,50,100 --json reports/ml100k_user_holdout.json

TEMPORAL_MODELS := popularity,recent-popularity,ease,predictor,ew=predictor,soft-split=predictor,learned-decay=predictor \
	--param ew.formulation=ew --param soft-split.formulation=soft-split --param learned-decay.decay=learned

bench-models: install ## every model beside the baselines on ML-100K, one evaluate run per protocol
	$(VENV)/bin/recserve evaluate --data $(ML100K) --format recbole --protocol leave-last-out \
		--models popularity,recent-popularity,last-item,itemknn,ease,led,attrec,predictor \
		--k 10,20,50 --json reports/ml100k_leave_last_out.json
	$(VENV)/bin/recserve evaluate --data $(ML100K) --format recbole --protocol temporal \
		--models $(TEMPORAL_MODELS) --k 1,5,10 --json reports/ml100k_temporal.json
	$(VENV)/bin/recserve evaluate --data $(ML100K) --format recbole --protocol user-holdout \
		--models popularity,itemknn,ease,led,attrec,predictor --k 20,50,100 \
		--json reports/ml100k_user_holdout.json

bench-synthetic: install ## the temporal table (predictor, EW, soft split) on the synthetic log
	$(VENV)/bin/recserve generate --out data/synthetic-bench --seed 0
	$(VENV)/bin/recserve evaluate --data data/synthetic-bench --format recbole --protocol temporal \
		--models $(TEMPORAL_MODELS) --k 1,5,10 --json reports/synthetic_temporal.json

bench-attention: install ## attention re-ranker on ML-100K: sampled protocol (gamma x N), then LED/AttRec with and without it
	$(PY) -m benchmarks.attention_sampled --json reports/attention_sampled.json
	$(VENV)/bin/recserve evaluate --data $(ML100K) --format recbole --protocol leave-last-out \
		--models led,led+attention,attrec,attrec+attention,ease,ease+attention --no-tune --k 10,20,50 \
		--json reports/ml100k_rerank.json

bench-hrnn: install ## HRNN-meta: importance sampling vs full softmax on 200K items, ML-100K ablations, cold items (Table 7), trend decomposition, query-time context and seeds
	$(PY) -m benchmarks.hrnn_sampling --json reports/hrnn_sampling.json
	$(PY) -m benchmarks.hrnn_ablation --data $(ML100K) --json reports/hrnn_ablation.json
	$(PY) -m benchmarks.hrnn_cold_items --data $(ML100K) --json reports/hrnn_cold_items.json
	$(PY) -m benchmarks.hrnn_trends --json reports/hrnn_trends.json
	$(PY) -m benchmarks.hrnn_query_time --data $(ML100K) --seeds 1,2 --json reports/hrnn_query_time.json

bench-attrec: install ## AttRec vs the paper on ML-100K leave-last-out, ablations, unknown-user fall-backs
	$(PY) -m benchmarks.attrec_ablation --data $(ML100K) --quick --seeds 0,1,2 \
		--json reports/attrec_defaults.json
	$(PY) -m benchmarks.attrec_ablation --data $(ML100K) --seeds 0 --json reports/attrec_ablation.json
	$(PY) -m benchmarks.attrec_ablation --data $(ML100K) --seeds 0 --unknown-users \
		--json reports/attrec_unknown_users.json

bench-evaluate: install ## recserve evaluate of every baseline, tuned, on 25K items x 30K users
	$(PY) -m benchmarks.evaluate_scale --json reports/evaluate_scale.json

bench-ease: install ## EASE fit time and memory up to 25,000 items
	$(PY) -m benchmarks.ease_scaling --json reports/ease_scaling.json

led-ml100k: install ## train LED on ML-100K (user-holdout) and export its bundle, timed
	rm -rf runs/led-ml100k bundles/led-ml100k/1
	time $(VENV)/bin/recserve train led --data $(ML100K) --format recbole \
		--protocol user-holdout --out runs/led-ml100k
	time $(VENV)/bin/recserve export --checkpoint runs/led-ml100k --out bundles/led-ml100k/1

bench-led: install ## LED vs EASE on ML-100K user-holdout, with the ablation table
	$(PY) -m benchmarks.led_ablation --data $(ML100K) --seeds 0 --json reports/led_ablation.json

bench-pretrain: install ## PMI + randomized SVD on a 100K-item catalogue
	$(PY) -m benchmarks.pretrain_scaling --items 100000 --json reports/pretrain_scaling.json

MODEL ?= led

bench-serving: install ## MODEL=led|predictor|attrec|hrnn[+rerank]: stage latencies, gRPC throughput vs a do-nothing server (100K items, one event per two requests)
	$(PY) -m loadtest.benchmark --model $(MODEL) --json reports/serving_$(MODEL).json

bench-hnsw: install ## MODEL=attrec|led|...: recall@10 and search cost of other HNSW graphs than the bundle's, as a ratio to its own
	$(PY) -m benchmarks.hnsw_settings --model $(MODEL) --json reports/hnsw_settings_$(MODEL).json

bench-store: install ## embedded store: append p50/p99 at 1K/100K/1M events, replay rate, fsync policies
	$(PY) -m benchmarks.store --json reports/store.json

bench-import: install ## recserve import-events into the embedded store and a private Redis: events/s, re-run
	$(PY) -m benchmarks.import_events --json reports/import.json

bench-hostile: install ## /healthz latency while clients post 1 MiB bodies or trickle headers (slowloris)
	$(PY) -m loadtest.hostile --json reports/hostile.json

loadtest: install redis ## locust, headless and bounded: REST + gRPC on the embedded and Redis stores
	$(PY) -m loadtest.locust_run --stores file,redis://127.0.0.1:6379/14 --users 20 \
		--duration 30 --max-requests 100000 --out reports/locust

proto: install ## regenerate the gRPC stubs from protos/recserve/v1/recommender.proto
	$(PY) protos/generate.py

clean: ## remove the venv, caches and generated data
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .schemathesis schemathesis-report \
		data reports runs bundles var build dist *.egg-info clients/python/build clients/python/*.egg-info

.PHONY: help install redis lint test demo bench-store bench-baselines bench-models bench-synthetic bench-attrec bench-hrnn \
	bench-ease led-ml100k bench-led \
	bench-attention bench-pretrain bench-serving bench-hostile bench-import bench-evaluate loadtest proto serving-image-check clean
