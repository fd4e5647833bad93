# The two commands of the README: `make run` and `make test`. Everything else is set-up.
# `make run` installs the runtime dependencies only; `make test` adds the dev tools. Each has
# its own stamp, so one never reinstalls for the other.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.run-stamp
DEV_STAMP := $(VENV)/.dev-stamp
DATA ?=

.PHONY: run test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(DEV_STAMP) $(RUN_STAMP)

# With DATA, the service keeps a store of its own for that directory (see `cyclewatch status
# --data DIR`), so file data never pass for live data.
run: $(RUN_STAMP)
	$(BIN)/cyclewatch run $(if $(DATA),--data $(DATA))

test: $(DEV_STAMP)
	./scripts/ensure-postgres.sh
	./scripts/ensure-browser.sh
	$(BIN)/ruff check .
	$(BIN)/mypy
	NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost $(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

bench: $(DEV_STAMP)
	$(BIN)/python bench/backtest.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
