# Two entry points a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-headless test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/leadsync demo

demo-headless: $(STAMP)
	$(BIN)/leadsync demo --headless

test: $(STAMP)
	$(BIN)/ruff check agent common tui tests
	$(BIN)/mypy
	$(BIN)/pytest -q

# make bench BENCH_ARGS="--quick"   (flags: --quick, --only NAME, --json PATH; see README "Benchmarks")
bench: $(STAMP)
	$(BIN)/python -m tests.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV)
