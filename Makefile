# edgeplane: `make up` starts it on its embedded default; `make test` runs the whole test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= data
SYSTEM_PACKAGES := kubectl=kubernetes-client podman=podman runc=runc busybox=busybox-static tmux=tmux

.PHONY: up test lint bench system-packages clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

system-packages:
	@tools/ensure-system-packages.sh $(SYSTEM_PACKAGES)

up: $(STAMP)
	$(BIN)/edgeplane up --data-dir $(DATA_DIR)

test: $(STAMP) system-packages
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist src/*.egg-info
