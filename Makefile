# Two commands matter (README): `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
DEV_ENV := DEBUG=1
# make run PORT=8080 (HOST=0.0.0.0 also needs ALLOWED_HOSTS)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup run test lint typecheck check bench-ingest clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

## Set everything up and run the app with demo data at http://$(HOST):$(PORT)
run: setup
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	$(DEV_ENV) $(PY) manage.py seed_demo
	$(DEV_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

## Run the whole test suite (SQLite by default; DATABASE_URL/CELERY_BROKER_URL switch it)
test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	SECRET_KEY=typecheck $(VENV)/bin/mypy .

check: lint typecheck test

bench-ingest: setup
	SECRET_KEY=bench $(PY) manage.py bench_ingest

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles test-artifacts
