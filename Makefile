# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench screenshots venv dev clean

# `make run` needs only the runtime requirements; tests, lint and the browser
# driver come with the first `make test`.
$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.runtime

dev: $(VENV)/.dev

run: venv
	HOST=$(HOST) PORT=$(PORT) ./scripts/run.sh

lint: dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: dev lint
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py check
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py makemigrations --check --dry-run
	./scripts/test-passes.sh

# The README's pictures (docs/*.png), taken by the browser tests at 1366 and 390 px.
screenshots: dev
	./scripts/screenshots.sh

# Bench-only dependencies (Celery, RQ for bench/peers.py), on top of the dev venv.
$(VENV)/.bench: $(VENV)/.dev bench/requirements.txt
	$(PY) -m pip install --quiet -r bench/requirements.txt
	touch $@

bench: $(VENV)/.bench
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) data .pytest_cache
