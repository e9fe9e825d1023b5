# Vendgate developer commands. Needs only Python 3.11+ and make; everything else goes into .venv.
# Override the interpreter used to create .venv with e.g. `make PYTHON=python3.12 test`.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv run test lint fmt bench clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv and install vendgate with its dev tools (again when pyproject changes)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Vendgate needs Python 3.11+; '$(PYTHON)' is older (try: make PYTHON=python3.11)" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: venv ## run the gateway on the embedded defaults with demo data (http://127.0.0.1:8080)
	$(BIN)/vendgate serve --demo-data

test: lint ## lint, type-check and import contracts, then the whole test suite
	$(BIN)/python -m pytest

lint: venv ## ruff check, ruff format --check, mypy --strict, import-linter contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: venv ## apply ruff's safe fixes, then format (remaining lint problems are printed)
	$(BIN)/ruff check --fix --exit-zero .
	$(BIN)/ruff format .

bench: venv ## run every bench/*.py (they print figures and ratios; they are not tests)
	@set -e; found=0; for script in bench/*.py; do \
		[ -e "$$script" ] || continue; found=1; \
		echo "== $$script"; $(BIN)/python "$$script"; \
	done; [ "$$found" = 1 ] || echo "no benchmarks in bench/ yet"

clean: ## remove caches and build output (keeps .venv; rm -rf .venv for a full reset)
	rm -rf build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache .coverage
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
