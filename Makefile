# The two commands a newcomer needs: `make up` starts the system, `make test` checks everything.
# Both work on a fresh machine with only Python 3.11+: they install uv when it is missing and the
# locked dependencies with it.

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")

.PHONY: up test setup lint types pytest format schemas

setup:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet --user uv || \
		$(PYTHON) -m pip install --quiet --user --break-system-packages uv
	@$(UV) sync --frozen --quiet

up: setup
	$(UV) run toxic up

test: setup lint types pytest

lint:
	$(UV) run ruff check .
	$(UV) run ruff format --check .

types:
	$(UV) run mypy

# Two workers: most tests wait on real processes starting and answering; each worker runs its
# own stand-in and MLflow, and keeps a test file's tests together.
pytest:
	$(UV) run pytest -n 2 --dist loadfile

format: setup
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

schemas: setup
	$(UV) run python -m contracts.generate
