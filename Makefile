# Development entry points. `make run` starts everything on this machine; `make test` runs the suite.

PYTHON ?= python3
VENV ?= .venv
PY = $(VENV)/bin/python
PYTEST_ARGS ?=
DATA_DIR ?= .data
# Written by `make run` while it runs: lets `make worker` / `make api` join the running stack.
STACK_ENV = $(DATA_DIR)/stack.env
API_PORT ?= 8001

.PHONY: install run test fuzz openapi bench worker api logs psql clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	touch $@

run: install
	$(PY) -m devstack run

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# The long schemathesis profile (tests/api/test_openapi_conformance.py): many more cases per operation.
fuzz: install
	SCHEMATHESIS_PROFILE=long $(PY) -m pytest tests/api/test_openapi_conformance.py $(PYTEST_ARGS)

# Rewrite the committed snapshot of /v1/openapi.json (docs/openapi.json) after an API change; review its diff.
openapi: install
	$(PY) -m api.openapi

bench: install
	$(PY) -m bench

# An extra worker (e.g. `make worker WORKER_ARGS="--queue admin"`) against the stack of a running `make run`.
worker: install
	@test -f $(STACK_ENV) || { echo "no running stack: $(STACK_ENV) is written by make run while it runs"; exit 1; }
	set -a; . "$(abspath $(STACK_ENV))"; set +a; $(PY) worker.py $(WORKER_ARGS)

# A second API with auto-reload on API_PORT, against the stack of a running `make run`.
api: install
	@test -f $(STACK_ENV) || { echo "no running stack: $(STACK_ENV) is written by make run while it runs"; exit 1; }
	set -a; . "$(abspath $(STACK_ENV))"; set +a; $(PY) -m uvicorn api.app:create_app --factory --reload --host 127.0.0.1 --port $(API_PORT)

# Every part's log, followed: the API, the worker and the sandboxes (.data/logs/), Temporal, Postgres and the S3 store.
logs:
	tail -n 20 -F $(DATA_DIR)/logs/*.log $(DATA_DIR)/temporal/temporal.log $(DATA_DIR)/postgres/log \
		$(DATA_DIR)/s3/weed.log

# psql on the running `make run` stack's database (the psql that ships with the embedded Postgres).
psql: install
	@test -f $(STACK_ENV) || { echo "no running stack: $(STACK_ENV) is written by make run while it runs"; exit 1; }
	@set -a; . "$(abspath $(STACK_ENV))"; set +a; exec $(PY) -m devstack psql

clean:
	rm -rf $(DATA_DIR)
