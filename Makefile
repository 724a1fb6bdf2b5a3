# The front door. `make run` and `make test` work on a fresh Debian machine with Python 3.11.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?=
ARGS   ?=

.PHONY: curl help run test pebble lint fmt clean schema-load db-console install install-dev benchmark docker-build docker-run chromium screenshots dashboard-bench

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { echo "On Debian: apt-get install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.run-installed

install: $(VENV)/.run-installed  ## create .venv and install the tracker
install-dev: $(VENV)/.dev-installed  ## create .venv with the development tools

run: install  ## serve on the embedded store (./data); CONFIG=config.json to use one
	$(BIN)/tracker serve $(CONFIG) $(ARGS)

TEST_WORKERS ?= 3

pebble:  ## install Debian's pebble (the ACME test server the TLS tests start) when missing
	@command -v pebble >/dev/null || { apt-get update -qq && apt-get install -y -qq pebble; }

curl:  ## curl, which the tests of the Go repository's curl commands run (installed with apt-get when missing)
	@command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }

test: install-dev pebble chromium curl  ## run the whole test suite (TEST_WORKERS processes; 0 runs it in this one)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(ARGS)

chromium:  ## Debian's Chromium for the browser tests (installed with apt-get when missing)
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

screenshots: install-dev chromium  ## the dashboard's screenshots in docs/ (a server on synthetic data)
	$(BIN)/python -m tests.screenshots

benchmark: install-dev  ## ingestion benchmark against a bare-ASGI floor (needs wrk); writes bench/results/<date>.md
	@command -v wrk >/dev/null || { echo "wrk is not installed: sudo apt-get install -y wrk"; exit 1; }
	$(BIN)/python bench/run.py $(ARGS)

dashboard-bench: install-dev  ## dashboard panel times on 1,000,000 events beside the ingestion benchmark (needs wrk)
	@command -v wrk >/dev/null || { echo "wrk is not installed: sudo apt-get install -y wrk"; exit 1; }
	$(BIN)/python bench/dashboard.py $(ARGS)

lint: install-dev  ## ruff and mypy --strict
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

fmt: install-dev  ## format the code
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

schema-load: install  ## create the ClickHouse tables in the store CONFIG names (embedded by default; idempotent)
	$(BIN)/tracker schema load $(CONFIG)

db-console: install  ## an SQL prompt on the store (works while the server runs); < file.sql runs a script
	$(BIN)/tracker console $(CONFIG)

IMAGE ?= tracker:latest

docker-build:  ## build the tracker's image (Dockerfile)
	docker build -t $(IMAGE) .

docker-run:  ## run the image: port 8080, embedded ClickHouse in the tracker-data volume
	docker run --rm -p 8080:8080 -v tracker-data:/data $(IMAGE) $(ARGS)

clean:  ## remove the virtualenv and caches (keeps ./data)
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
