# Quick start: `make demo` runs the product with demo data; `make test` runs every check and test.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
# PostgreSQL for the tests (trust auth on this machine); set to "off" to run on SQLite only.
LOYALTY_TEST_POSTGRES ?= postgresql://postgres@127.0.0.1:5432/test
export LOYALTY_TEST_POSTGRES

.PHONY: demo serve test lint unit bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/loyalty demo

serve: $(BIN)/.installed
	$(BIN)/loyalty serve

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: $(BIN)/.installed
	$(BIN)/pytest -q

test: lint unit

bench: $(BIN)/.installed
	$(BIN)/python -m bench.http_events
	$(BIN)/python -m bench.http_events --postgres
	$(BIN)/python -m bench.jobs_bulk
	$(BIN)/python -m bench.jobs_bulk --postgres

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
