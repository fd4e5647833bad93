# The two commands of the README: `make run` and `make test`. Everything else is set-up.
# `make run` installs the runtime dependencies only; `make test` adds the dev tools. Each has
# its own stamp, so one never reinstalls for the other. `make test-fast` is the quick tier.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.run-stamp
DEV_STAMP := $(VENV)/.dev-stamp
DATA ?=
# pytest-xdist workers: one per core (the suite is bound by CPU, its processes' included; more
# workers only crowd a busy machine). WORKERS=1 runs everything in one process, as before.
CORES := $(shell $(PYTHON) -c 'import os; print(os.cpu_count() or 1)')
WORKERS ?= $(CORES)
# make test-fast: two workers a core, since its in-process tests spend about a third of their
# time waiting on sockets and the real clock (docs/benchmarks.md, the test suite: on 2 idle
# cores 4 workers took 85 s, 3 took 92 s, 2 took 120 s).
FAST_WORKERS ?= $(shell echo $$(($(CORES) * 2)))
# Compiled modules and pytest's rewritten test modules are kept (__pycache__/, ignored by git)
# even where the environment says PYTHONDONTWRITEBYTECODE: 2 s of CPU per worker at collection.
PYTEST_ENV := NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost PYTHONDONTWRITEBYTECODE=
pytest = $(PYTEST_ENV) $(BIN)/python -m pytest -q -p no:cacheprovider \
	$(if $(filter-out 1,$(1)),-n $(1) --dist worksteal)
PYTEST := $(call pytest,$(WORKERS))

.PHONY: run test test-fast lint typecheck bench clean golden fuzz crash

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
	@# zh charts need a CJK font (bot/chat/chartstyle.py CJK_FONTS gives the fallback order)
	@fc-list :lang=zh family 2>/dev/null | grep -q . || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq fonts-noto-cjk >/dev/null; } || echo "no CJK font: install fonts-noto-cjk" >&2
	./scripts/ensure-browser.sh
	./scripts/ensure-promtool.sh
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(PYTEST)

# The tests that need no other process: no interpreter, browser, wheel build or database
# server (-m "not slow"; README.md, "Tests"). No set-up beyond the dev tools.
test-fast: $(DEV_STAMP)
	$(call pytest,$(FAST_WORKERS)) -m "not slow"

# Rewrite tests/golden/ from the current renderers; review the diff before keeping it.
golden: $(DEV_STAMP)
	CYCLEWATCH_GOLDEN=update $(BIN)/python -m pytest -q -p no:cacheprovider tests/golden

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

bench: $(DEV_STAMP)
	$(BIN)/python bench/backtest.py

# The whole rules-file fuzz campaign of issue 13 (`make test` runs a 400-file sample):
# FUZZ_FILES mutants from FUZZ_SEED through check, evaluation and a live reload.
FUZZ_FILES ?= 10000
FUZZ_SEED ?= 13
fuzz: $(DEV_STAMP)
	CYCLEWATCH_FUZZ_FILES=$(FUZZ_FILES) CYCLEWATCH_FUZZ_SEED=$(FUZZ_SEED) $(BIN)/python -m pytest \
		-q -s -p no:cacheprovider -o timeout=3600 tests/rules/test_fuzz.py::test_the_whole_campaign

# The long kill -9 campaign (`make test` crashes the fan-out 20 times): CRASHES restarts.
CRASHES ?= 50
crash: $(DEV_STAMP)
	NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost CYCLEWATCH_CRASHES=$(CRASHES) \
		$(BIN)/python -m pytest -q -p no:cacheprovider -o timeout=3600 tests/service/test_crash.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
