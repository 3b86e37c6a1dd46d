# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench venv clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

run: venv
	HOST=$(HOST) PORT=$(PORT) ./scripts/run.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: venv lint
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py check
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py makemigrations --check --dry-run
	@echo "== SQLite pass =="
	$(VENV)/bin/pytest -q
	./scripts/test-services.sh

# Bench-only dependencies (Celery, RQ for bench/peers.py), on top of the venv.
$(VENV)/.bench-installed: $(VENV)/.installed bench/requirements.txt
	$(PY) -m pip install --quiet -r bench/requirements.txt
	touch $@

bench: venv $(VENV)/.bench-installed
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) data .pytest_cache
