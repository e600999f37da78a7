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
# Test files run in parallel, one whole file per worker (`--dist loadfile`): each worker has
# its own local AWS (moto's state is process-wide) and its own Terraform runs.
PYTEST_WORKERS ?= 2
BURST_ARGS ?=
COST_ARGS ?=
EXAMPLE ?= aws
SANDBOX_PORT ?= 5000
TOOLS_VENV ?= .venv-tools
# The import roots of the services and their library (as pytest's `pythonpath`), for the
# import contracts (.importlinter).
PYTHON_SOURCES := libs/approval_core/src:services/start_approval/src:services/receive_result/src
# Root modules that `make lint` initializes (-backend=false) and validates.
TF_ROOTS := terraform/examples/aws terraform/examples/local terraform/modules/approval_gate terraform/modules/lambda_service
# The state machine definition, rendered by Terraform from the module's template (no init needed).
ASL_FIXTURE := tests/functional/terraform/fixtures/state_machine
# Terraform with the repository's environment (scripts/terraform_env.py: provider mirror or
# registry, plugin cache under .tfcli/); TERRAFORM_BIN as there.
TF_SETUP = tf_env="$$($(VENV_PYTHON) scripts/terraform_env.py --print)"; eval "$$tf_env"; tf="$${TERRAFORM_BIN:-terraform}"

.PHONY: help install install-tools test test-unit lint format package bench bench-burst bench-cost demo sandbox sandbox-stop plan deploy redrive verify-aws test-aws destroy clean

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

# Linters that cannot share .venv (checkov pins its own boto3, ...): their own venv.
$(TOOLS_VENV)/.installed: requirements-tools.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version 2>&1)); run make with PYTHON=python3.12, say."; exit 1; }
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS_VENV)/bin/python -m pip install --quiet -r requirements-tools.txt
	@touch $@

# asl-validator (the state machine linter), pinned by package-lock.json. Without npm this
# warns and goes on (the Python targets do not need it); make lint and the tests then fail
# saying how to install it. The lock file omits the registry's URLs: regenerate it with
# `npm install --package-lock-only --omit-lockfile-registry-resolved`.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  echo "npm ci"; npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else \
	  echo "WARNING: npm not found, asl-validator not installed: install Node.js 18+ with npm, then run make install again." >&2; \
	fi

install-tools: $(TOOLS_VENV)/.installed node_modules/.installed ## Only the linters: .venv-tools (checkov) and node_modules (asl-validator)

install: $(VENV)/.installed install-tools ## Create .venv, .venv-tools and node_modules with every tool and library, pinned

# One pytest run per layer, each timed (docs/benchmarks.md, "The test suite"); a layer with no
# test left by PYTEST_ARGS (exit status 5) is not a failure. tests/aws skips without an account.
TEST_LAYERS := unit functional e2e aws
# The end-to-end files mostly wait (Terraform, SSM's rates, the approvers' minute), so they
# run four at a time on two cores (605 s against 700 s with three: docs/benchmarks.md, "The
# test suite"); each worker has its own local AWS.
E2E_WORKERS ?= 4

test: install ## Run every layer of tests: unit, functional (moto + local AWS), end to end (Terraform); prints each layer's time
	@for layer in $(TEST_LAYERS); do \
	  started=$$(date +%s); \
	  status=0; \
	  workers=$(PYTEST_WORKERS); [ $$layer = e2e ] && workers=$(E2E_WORKERS); \
	  $(VENV_PYTHON) -m pytest -n $$workers --dist loadfile tests/$$layer $(PYTEST_ARGS) || status=$$?; \
	  echo "== layer $$layer: $$(( $$(date +%s) - started )) s (pytest exit status $$status)"; \
	  if [ $$status -ne 0 ] && [ $$status -ne 5 ]; then exit $$status; fi; \
	done

test-unit: install ## Only the unit tests: no AWS, no local AWS, no Terraform (seconds)
	$(VENV_PYTHON) -m pytest tests/unit $(PYTEST_ARGS)

lint: install ## Static checks: ruff, mypy (strict), import layers (.importlinter), module READMEs, terraform fmt and validate, checkov, the state machine (asl-validator)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	PYTHONPATH=$(PYTHON_SOURCES) $(VENV)/bin/lint-imports
	$(VENV_PYTHON) scripts/module_readme.py --check terraform/modules/approval_gate terraform/modules/lambda_service
	@$(TF_SETUP); \
	echo "terraform fmt -check -recursive terraform $(ASL_FIXTURE)"; \
	"$$tf" fmt -check -recursive -diff terraform $(ASL_FIXTURE) || \
	  { echo "Not in terraform fmt style (the diff above): run terraform fmt -recursive on those files" >&2; exit 1; }; \
	for dir in $(TF_ROOTS); do \
	  echo "terraform init -backend=false && terraform validate: $$dir"; \
	  out="$$("$$tf" -chdir=$$dir init -backend=false -input=false -no-color 2>&1)" || { echo "$$out" >&2; exit 1; }; \
	  "$$tf" -chdir=$$dir validate -no-color; \
	done
	@echo "checkov --directory terraform"
	@test -x $(TOOLS_VENV)/bin/checkov || { echo "checkov is missing: run make install" >&2; exit 1; }
	@CKV_SKIP_PACKAGE_UPDATE_CHECK=true LOG_LEVEL=ERROR $(TOOLS_VENV)/bin/checkov --directory terraform \
	  --framework terraform secrets --skip-download --compact --quiet
	@echo "asl-validator: the state machine definition rendered from $(ASL_FIXTURE)"
	@test -x node_modules/.bin/asl-validator || \
	  { echo "asl-validator is missing: install Node.js 18+ with npm, then run make install" >&2; exit 1; }
	@$(TF_SETUP); \
	encoded="$$(echo 'base64encode(jsonencode(local.definition))' | "$$tf" -chdir=$(ASL_FIXTURE) console)"; \
	definition="$$(echo "$$encoded" | tr -d '"' | base64 -d)"; \
	node_modules/.bin/asl-validator --json-definition "$$definition"

format: install ## Format the Python code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

package: install ## Build dist/<service>-<version>.zip and dist/manifest.json (SERVICE=, ARCH=)
	$(VENV_PYTHON) build/package.py --arch $(ARCH) $(if $(SERVICE),--service $(SERVICE))

bench: package ## Measure cold starts and zip sizes (docs/benchmarks.md)
	$(VENV_PYTHON) bench/cold_start.py

bench-burst: package ## 200 concurrent approvals through the local AWS (BURST_ARGS=, docs/benchmarks.md)
	$(VENV_PYTHON) -m bench.burst $(BURST_ARGS)

bench-cost: package ## Calls and cost per approval, this gate vs the original stack (COST_ARGS=, docs/benchmarks.md)
	$(VENV_PYTHON) -m bench.cost $(COST_ARGS)

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

redrive: install ## Replay approval results from the dead-letter queue (after the fix; DRY_RUN=1 lists them)
	@$(TF_SETUP); \
	$(if $(ENDPOINT),AWS_ENDPOINT_URL=$(ENDPOINT)) $(VENV)/bin/approvals \
	  --terraform-dir terraform/examples/$(EXAMPLE) redrive $(if $(DRY_RUN),--dry-run)

verify-aws: install ## Probe the account of the deployed example: a report of what SSM does where AWS is silent
	$(VENV_PYTHON) -m scripts.verify_aws --example terraform/examples/$(EXAMPLE) $(if $(ENDPOINT),--endpoint $(ENDPOINT))

# --confcutdir: tests/conftest.py (fake credentials for the default suite) is not loaded.
test-aws: install ## Approvals through the deployed aws example on a real account (tests/aws)
	$(VENV_PYTHON) -m pytest --confcutdir=tests/aws tests/aws -m aws $(PYTEST_ARGS)

destroy: install ## terraform destroy of terraform/examples/EXAMPLE
	$(VENV_PYTHON) -m scripts.gate_terraform destroy --example $(EXAMPLE)

clean: ## Remove build output and caches (never Terraform state)
	rm -rf dist .pytest_cache .ruff_cache .mypy_cache .import_linter_cache .hypothesis .tfcli
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +
