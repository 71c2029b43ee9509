# dbp: two commands matter. `make run` starts the service, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The suite runs in two pytest-xdist workers, a test file per worker at a time (module fixtures
# stay whole); PYTEST_WORKERS=0 runs it in one process (needed for -s output).
PYTEST_WORKERS ?= 2

.PHONY: install run test test-hsm bench lint clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: export DBP_PUBLIC_URL ?= http://$(HOST):$(PORT)
run: install
	$(BIN)/dbp serve --demo --host $(HOST) --port $(PORT)

# .ci/services starts or installs what the tests talk to (PostgreSQL, Chromium and its driver,
# zbar, Java, anvil and solc-js, the interop npm packages): a fresh clone needs nothing else.
test: install
	bash .ci/services
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The issuing, verifying, transfer and anchoring tests again with every service's keys in a
# SoftHSM2 token (DBP_KEY_BACKEND=pkcs11; tests/hsm_testkit.py makes the token).
HSM_TESTS ?= tests/issuer tests/anchor tests/verifier tests/service tests/resolver tests/wallet
test-hsm: install
	DBP_TEST_KEY_BACKEND=pkcs11 $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile \
	  $(PYTEST_ARGS) $(HSM_TESTS)

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
