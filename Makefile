# Amend: `make run` starts the platform on embedded defaults, `make test` runs the suite.
# Both create .venv and install the pinned dependencies on first use.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export AMEND_DEBUG ?= 1

.PHONY: install run test lint mlflow reference-model bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

reference-model: $(STAMP)
	$(PY) -m workers.editor build-reference-model --out var/models/reference --if-missing

run: $(STAMP) reference-model
	$(PY) -m amend.run_local

mlflow: $(STAMP)
	$(PY) -m amend.mlflow_ui

test: $(STAMP)
	./scripts/ensure-chromium
	$(PY) -m ruff check .
	# One BLAS/OpenMP thread per process: the suite runs Celery workers beside pytest, and torch's
	# spinning thread pools slow each other down twenty-fold when they share two cores.
	OMP_NUM_THREADS=1 $(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP) reference-model
	$(PY) -m workers.editor bench --model var/models/reference --data var/models/reference/edits.jsonl \
		--batch-size 100 --turns 10 --method ultraedit,amend,ft --json var/bench-editor.json
	$(PY) manage.py bench_api
	$(PY) manage.py bench_pipeline

clean:
	rm -rf var .pytest_cache .ruff_cache
