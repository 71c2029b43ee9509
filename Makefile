# dbp: two commands matter. `make run` starts the service, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The suite runs in two pytest-xdist workers, a test file per worker at a time (module fixtures
# stay whole); PYTEST_WORKERS=0 runs it in one process (needed for -s output).
PYTEST_WORKERS ?= 2

.PHONY: install run test bench lint clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: export DBP_PUBLIC_URL ?= http://$(HOST):$(PORT)
run: install
	$(BIN)/dbp serve --demo --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

# Every figure of bench/README.md; BENCH_QUICK=1 for a shorter run, `make bench BENCH=proofs`
# for one module. Exits 0 when targets are missed (they are printed MISSED), 1 when a benchmark
# failed to run.
bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench $(BENCH)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) var .pytest_cache
