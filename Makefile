# Two entry points a newcomer needs: `make demo` and `make test`.
# Both install the exact versions of requirements/*.lock (hashes checked), then leadsync itself without
# dependencies; `make lock` regenerates the locks from pyproject.toml (LOCK_ARGS=--upgrade to move them on).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEST_STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
UV := uv>=0.13,<0.14
COMPILE := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command "make lock"

.PHONY: demo demo-headless test test-fast lock bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# the test tools (pytest, mypy, ruff, import-linter, the CRMs' official clients) and leadsync
$(TEST_STAMP): requirements/test.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/test.lock
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	touch $@

# only what the demo runs: leadsync and its runtime dependencies
$(DEMO_STAMP): requirements/demo.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/demo.lock
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	touch $@

demo: $(DEMO_STAMP)
	$(BIN)/leadsync demo

demo-headless: $(DEMO_STAMP)
	$(BIN)/leadsync demo --headless

test: $(TEST_STAMP)
	$(BIN)/ruff check agent common tui tests
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo
	$(BIN)/pytest -q

# the inner loop: lint, layering and every test not marked slow (about a third of `make test`'s time)
test-fast: $(TEST_STAMP)
	$(BIN)/ruff check agent common tui tests
	$(BIN)/lint-imports --no-logo
	$(BIN)/pytest -q -m "not slow"

lock: | $(BIN)/python
	$(BIN)/pip install --quiet '$(UV)'
	$(COMPILE) --extra test $(LOCK_ARGS) -o requirements/test.lock
	$(COMPILE) -c requirements/test.lock -o requirements/demo.lock

# make bench BENCH_ARGS="--quick"   (flags: --quick, --only NAME, --json PATH; see README "Benchmarks")
bench: $(TEST_STAMP)
	$(BIN)/python -m tests.bench $(BENCH_ARGS)

# a simulated week on each CRM's sandbox, then every invariant (not part of `make test`; README "Soak")
# make soak SOAK_ARGS="--crm hubspot --minutes 10 --seed 7"   (default: all four CRMs, 3 minutes each)
soak: $(TEST_STAMP)
	$(BIN)/python -m tests.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV)
