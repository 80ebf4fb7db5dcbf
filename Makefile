# kuulo: every target bootstraps .venv first (idempotent: it reinstalls only when
# pyproject.toml changed). Needs python3 >= 3.11 with venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= config/kuulo.toml

.PHONY: browser install demo run test lint typecheck pytest bench train-sentiment clean help

help:
	@echo "make demo     - sample feeds on loopback -> collect -> score -> dashboard (no internet)"
	@echo "make test     - lint, type-check and run the tests"
	@echo "make run      - run kuulo with $(CONFIG) (created from the example if absent)"
	@echo "make bench    - ingest and scorer throughput, written to data/bench/results.json"
	@echo "make install  - create .venv and install kuulo with its test extra"

# Browser tests drive Debian's chromium (never a downloaded browser). Installed when missing
# and we may (root, as in CI); otherwise those tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found: browser tests will be skipped (apt-get install chromium)"; fi; }

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/kuulo demo

$(CONFIG):
	cp config/kuulo.example.toml $(CONFIG)
	@echo "created $(CONFIG) from config/kuulo.example.toml: edit it to add your brands and sources"

run: install $(CONFIG)
	$(BIN)/kuulo --config $(CONFIG) run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install browser
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: install
	$(BIN)/python -m kuulo.bench

train-sentiment: install
	$(BIN)/python -m sentiment.train

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
