# Two commands do everything on a fresh machine: `make dev` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup dev test chromium lint fmt package checkov bench clean

# The stamp is rebuilt whenever a requirements file changes, so a pull that adds a dependency
# installs it on the next `make test` without anyone remembering to run setup.
$(STAMP): requirements-dev.txt functions/*/requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

setup: $(STAMP)

dev: $(STAMP)
	$(PY) -m local.devstack

# Chromium first: when it is missing and cannot be installed here, `make test` stops at once
# with the command to run, before minutes of tests (tests/support/chromium.py).
test: chromium $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	terraform fmt -check -recursive terraform
	$(PY) -m pytest

chromium:
	@$(PYTHON) -m tests.support.chromium

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fmt: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .
	terraform fmt -recursive terraform

package: $(STAMP)
	$(PY) -m deploy.package

# The security scan of terraform/ (also part of `make test`); checkov lives in its own venv
# because its dependencies conflict with the functions'.
checkov: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests/infra/test_checkov.py

# Each benchmark starts what it needs and prints its table (bench/__init__.py lists them).
bench: $(STAMP)
	$(PY) -m bench.webhook
	$(PY) -m bench.e2e
	$(PY) -m bench.media
	$(PY) -m bench.dashboard
	$(PY) -m bench.hostile
	$(PY) -m bench.knowledge
	$(PY) -m bench.guardrails

clean:
	rm -rf build artifacts .pytest_cache .ruff_cache
