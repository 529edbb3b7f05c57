# musicorg: `make run` opens the app (on the demo library when none is configured),
# `make test` runs the gates and the whole test suite. Both set up what they need first.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen

.PHONY: setup sysdeps run test lint format typecheck check bench clean demo

setup: sysdeps $(STAMP)

sysdeps:
	@scripts/system_deps.sh

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: setup
	QT_QPA_PLATFORM= $(VENV)/bin/musicorg

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: setup lint
	$(PY) -m pytest

demo: $(STAMP)
	$(PY) scripts/make_demo.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache
