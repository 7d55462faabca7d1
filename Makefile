# riptide-dashboard: `make run` serves the dashboard and API, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-requirements
DEV_STAMP := $(VENV)/.installed-requirements-dev
HOST ?= 127.0.0.1
PORT ?= 8080
# Installs take the exact, hashed pins of the lock files, never the newest release in a range.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --require-hashes
PIP_TOOLS := pip-tools==7.6.2
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
# `make lock` keeps every pin that still fits pyproject.toml; LOCK_ARGS=--upgrade moves them
# all, LOCK_ARGS="--upgrade-package NAME" one.
LOCK_ARGS ?=

.PHONY: install install-dev lock run demo test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# requirements.txt: the runtime, the redis and standalone extras (what `make run` serves with).
$(STAMP): requirements.txt | $(BIN)/python
	$(PIP_INSTALL) -r requirements.txt
	touch $(STAMP)

# requirements-dev.txt: all of requirements.txt, same pins, plus the test tools.
$(DEV_STAMP): requirements-dev.txt requirements.txt | $(BIN)/python
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $(STAMP) $(DEV_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

# Regenerate both locks from pyproject.toml's ranges (pip-tools is installed on demand).
lock: | $(BIN)/python
	test -x $(BIN)/pip-compile || $(BIN)/python -m pip install --quiet '$(PIP_TOOLS)'
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile $(LOCK_FLAGS) $(LOCK_ARGS) \
		--extra redis --extra standalone -o requirements.txt pyproject.toml
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile $(LOCK_FLAGS) $(LOCK_ARGS) \
		--extra redis --extra standalone --extra dev -c requirements.txt -o requirements-dev.txt pyproject.toml

run: install
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(BIN)/python manage.py ensure_dev_api_key
	$(BIN)/daphne -b $(HOST) -p $(PORT) riptide_dashboard.asgi:application

# The dashboard with a synthetic crawler inside the server (demo/): hotspots and a slow
# leak show up within a minute. Prints the demo login once.
demo: install
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py ensure_dev_api_key
	$(BIN)/python manage.py ensure_demo_user
	RIPTIDE_DEMO=true PROFILING_MEMORY_INTERVAL_SECS=1 PROFILING_LEAK_CHECK_INTERVAL_SECS=10 \
		$(BIN)/daphne -b $(HOST) -p $(PORT) riptide_dashboard.asgi:application

test: install-dev
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
