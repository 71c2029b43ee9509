# dbp: two commands matter. `make run` starts the service, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The suite runs in two pytest-xdist workers, a test file per worker at a time (module fixtures
# stay whole); PYTEST_WORKERS=0 runs it in one process (needed for -s output).
PYTEST_WORKERS ?= 2

.PHONY: install run test test-hsm test-hsm-core bench lint clean

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
# Then the core HSM pass (test-hsm-core): CI runs `make test`, so issuance, verification, transfer
# and anchoring with keys in a SoftHSM2 token are guarded on every run, not only by `make test-hsm`.
test: install
	bash .ci/services
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-hsm-core

# The issuing, verifying, transfer and anchoring tests again with every service's keys in a
# SoftHSM2 token (DBP_KEY_BACKEND=pkcs11; tests/hsm_testkit.py makes the token).
HSM_TESTS ?= tests/issuer tests/anchor tests/verifier tests/service tests/resolver tests/wallet
test-hsm: install
	DBP_TEST_KEY_BACKEND=pkcs11 $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile \
	  $(PYTEST_ARGS) $(HSM_TESTS)

# The core of that pass, part of `make test` (a few minutes on 2 cores): issuing passports and
# VC-API credentials, status lists, verifying, transfers between operators and between instances,
# anchoring (the account's transactions signed in the token), and the custody checks themselves
# (no private key material in the database or the data directory).
HSM_CORE_TESTS ?= tests/issuer/test_passports.py tests/issuer/test_statuslists.py \
  tests/issuer/test_transfers.py tests/service/test_vcapi.py tests/verifier/test_with_issuer.py \
  tests/wallet/test_handover_instances.py tests/anchor/test_service.py \
  tests/anchor/test_custody_anchor.py tests/service/test_custody.py
test-hsm-core: install
	DBP_TEST_KEY_BACKEND=pkcs11 $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile \
	  $(HSM_CORE_TESTS)

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
