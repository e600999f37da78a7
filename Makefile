# Approval gate for AWS Step Functions. `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
VENV_PYTHON := $(VENV)/bin/python
ARCH ?= x86_64
SERVICE ?=
PYTEST_ARGS ?=
EXAMPLE ?= aws
SANDBOX_PORT ?= 5000

.PHONY: help install test lint format package bench demo sandbox sandbox-stop plan deploy destroy clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  make %-13s %s\n", $$1, $$2}'
	@echo "  Variables: SERVICE=<name>, ARCH=x86_64|arm64, EXAMPLE=aws|local, PYTHON=python3.x"

$(VENV)/.installed: requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version 2>&1)); run make with PYTHON=python3.12, say."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV_PYTHON) -m pip install --quiet --upgrade pip
	$(VENV_PYTHON) -m pip install --quiet -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed ## Create .venv with every tool and library, pinned

test: install ## Run the tests (unit, sandbox, packaging)
	$(VENV_PYTHON) -m pytest $(PYTEST_ARGS)

lint: install ## Static checks: ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install ## Format the Python code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

package: install ## Build dist/<service>-<version>.zip and dist/manifest.json (SERVICE=, ARCH=)
	$(VENV_PYTHON) build/package.py --arch $(ARCH) $(if $(SERVICE),--service $(SERVICE))

bench: package ## Measure cold starts and zip sizes (docs/benchmarks.md)
	$(VENV_PYTHON) bench/cold_start.py

demo: package ## The whole flow on this machine: local AWS, terraform apply, approve + reject, destroy
	$(VENV_PYTHON) -m scripts.demo

sandbox: install ## Run the local AWS on 127.0.0.1 (port SANDBOX_PORT=5000) until Ctrl-C
	$(VENV_PYTHON) -m sandbox serve --port $(SANDBOX_PORT)

sandbox-stop: install ## Stop a local AWS started by `make sandbox` in another shell
	$(VENV_PYTHON) -m sandbox stop

plan: package ## terraform plan of terraform/examples/EXAMPLE (aws, or local)
	$(VENV_PYTHON) -m scripts.gate_terraform plan --example $(EXAMPLE)

deploy: package ## terraform apply of terraform/examples/EXAMPLE; prints an input example
	$(VENV_PYTHON) -m scripts.gate_terraform deploy --example $(EXAMPLE)

destroy: install ## terraform destroy of terraform/examples/EXAMPLE
	$(VENV_PYTHON) -m scripts.gate_terraform destroy --example $(EXAMPLE)

clean: ## Remove build output and caches (never Terraform state)
	rm -rf dist .pytest_cache .ruff_cache .hypothesis .tfcli
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +
