# Set-up and everyday commands. `make demo` and `make test` are all a new user needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Test workers (pytest-xdist): one per core, at most 4 (each starts its own
# Virtuoso, Oxigraph and Glance); whole files per worker, longest first
# (tests/conftest.py orders them). TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
PARALLEL := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

.PHONY: demo test test-fast check schema bench clean glance system
GLANCE_VENV ?= .venv-glance

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "specengine needs Python >= 3.11 (found: $$($(PYTHON) --version))"; exit 1; }
	@$(PYTHON) -m venv $(VENV) || \
	  { echo "cannot create a virtual environment: on Debian, apt-get install python3-venv"; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

## demo: run the reference alignment (creates .venv on first use), then compile
## the numba loops into their cache (a first large run would pay ~5 s for it)
demo: $(STAMP)
	$(BIN)/engine run specs/seed-people.yaml
	$(BIN)/python -m engine.alignment.warm

## test: the whole test suite; on first use installs the Debian packages the
## tests need (tests/system-packages.sh: apt as root, or through sudo) and
## builds the Glance test virtualenv
test: $(STAMP) system glance
	$(BIN)/pytest -q $(PARALLEL) --durations=15

## test-fast: the suite without the slow tests (image builds and QEMU boots)
test-fast: $(STAMP) system glance
	$(BIN)/pytest -q $(PARALLEL) -m "not slow"

## system: the Debian packages the tests need (Virtuoso, Chromium, QEMU, sshd...)
system:
	@bash tests/system-packages.sh

## glance: a real OpenStack Glance in its own virtualenv, for the tests
glance:
	@bash tests/glance-venv.sh $(GLANCE_VENV)

## check: lint, format and type checks
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## schema: regenerate schemas/json from the pydantic models
schema: $(STAMP)
	$(BIN)/engine schema

## bench: the benchmark harness (not part of the tests)
bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(GLANCE_VENV) out .pytest_cache .mypy_cache .ruff_cache
