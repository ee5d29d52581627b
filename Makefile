# One entry point for humans and CI. The virtual environment is created on first use, so a
# fresh clone needs nothing but python3 (>= 3.11).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
TRINO_VERSION ?= 476

.PHONY: venv plan test test-fast lint rehearse image bench clean docs pulumi-loader pulumi-cli

$(VENV)/.installed: requirements.txt
	@echo "creating $(VENV) and installing requirements.txt (about 100 packages; a minute or more, once)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

venv: $(VENV)/.installed

## The main job, offline: the real program under Pulumi mocks, printed as a plan.
plan: venv
	@$(PY) -m tools.plan --stack $(STACK) $(if $(VERBOSE),--verbose)

## Everything: lint, unit, functions, agent, image and the real-component integration suite.
## The integration suite and the rest run side by side (tools/run_tests.py says why); each prints whole.
test: venv lint
	$(PY) -m tools.run_tests

## The same without the integration suite (no Trino, Elasticsearch or Prometheus).
test-fast: venv lint
	$(PY) -m pytest -q -ra -m "not integration"

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## Build Pulumi's own stack loader (tools/pulumi_loader), the oracle of tests/integration/test_stack_loader.py.
pulumi-loader:
	@bash tools/pulumi_loader/build.sh

## Build the Pulumi CLI (pkg/v3 v3.276.0) that tests/integration/test_automation_cli.py drives.
pulumi-cli:
	@bash tools/pulumi_cli/build.sh

## Regenerate docs/configuration.md from the config-key table (a test fails while it is stale).
docs: venv
	$(PY) -m tools.docs

## Boot the stack's Trino configs on this machine and run a smoke query (Ctrl-C stops it).
rehearse: venv
	$(PY) -m tools.rehearse --stack $(STACK)

## Build the AMI for real (needs Packer and AWS credentials).
image:
	$(MAKE) -C image build TRINO_VERSION=$(TRINO_VERSION)

bench: venv
	@for b in bench/[a-z]*.py; do m=$$(basename $$b .py); echo "== bench.$$m"; $(PY) -m bench.$$m || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
