# riptide-dashboard: `make run` serves the dashboard and API, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-requirements
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: install run demo test lint format bench clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

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

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
