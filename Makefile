# gitlab-ferry: everything a newcomer needs is behind `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
UV     := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
CACHE  ?= $(HOME)/.cache/gitlab-ferry
PYTEST_ARGS ?=
LINT_PATHS := operator tests tools $(wildcard bench)

KIND_SH := tools/kind/kind.sh
KIND_PYTEST_ARGS ?=

.PHONY: help setup venv system controlplane helm test test-fast test-kind kind kind-down compat \
	lint crds image demo bench reliability clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m pip install --quiet --user uv

$(VENV)/.installed: pyproject.toml requirements/dev.lock | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(VENV) requirements/dev.lock
	$(UV) pip install --quiet --python $(VENV) --no-deps -e .
	touch $@

venv: $(VENV)/.installed ## Create the virtual environment

system: ## Install the system packages the tests use (Debian: lua, prometheus)
	@tools/install-system-packages.sh

controlplane: ## Build kube-apiserver, etcd and kube-controller-manager from Go modules
	tools/controlplane/build.sh

helm: ## Build helm from Go modules (cached)
	tools/install-helm.sh

setup: venv system controlplane helm ## Everything the demo and the tests need

lint: venv ## ruff, mypy --strict and the layer contracts
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy
	$(BIN)/lint-imports

crds: venv ## Regenerate crds/ and the chart's copy from the models
	$(BIN)/gitlab-ferry crds

test: ## Run every test tier: the fast ones (test-fast), then the kind tier (test-kind)
	$(MAKE) test-fast
	$(MAKE) test-kind

test-fast: setup lint ## Unit, component, contract, fidelity and e2e tiers (no Docker)
	CI=$${CI:-} PATH="$(CURDIR)/$(VENV)/bin:$(CACHE)/bin:$$PATH" $(BIN)/pytest $(PYTEST_ARGS)

COMPAT_TESTS := tests/e2e/test_migration.py tests/e2e/test_import_routes.py \
	tests/e2e/test_gitlab_versions.py

compat: setup ## The version-aware end-to-end tests against every simulated GitLab version
	GITLAB_FERRY_TEST_GITLAB_VERSIONS=all CI=$${CI:-} PATH="$(CURDIR)/$(VENV)/bin:$(CACHE)/bin:$$PATH" \
		$(BIN)/pytest $(COMPAT_TESTS) $(PYTEST_ARGS)

kind: ## Build (cached) and start a kind cluster; install the operator with its chart
	$(KIND_SH) up

kind-down: ## Delete the kind cluster (images and build caches stay)
	$(KIND_SH) down

test-kind: venv system kind ## The kind tier: the operator as a Pod from its image, by its chart
	set -a && source <($(KIND_SH) env) && set +a && \
	CI=$${CI:-} PATH="$(CURDIR)/$(VENV)/bin:$(CACHE)/bin:$$PATH" $(BIN)/pytest tests/kind $(KIND_PYTEST_ARGS)

IMAGE ?= gitlab-ferry:0.1.0
# The Dockerfile's base (default python:3.11-slim); name a local one where no registry is reachable.
PYTHON_IMAGE ?=

image: ## Build the operator image (IMAGE, PYTHON_IMAGE); check it holds the operator alone
	docker build $(if $(PYTHON_IMAGE),--build-arg PYTHON_IMAGE=$(PYTHON_IMAGE)) -t $(IMAGE) .
	tools/check-operator-image.sh $(IMAGE)

demo: venv controlplane ## Local control plane, two simulated GitLabs, the operator and a live migration
	$(BIN)/python -m gitlab_ferry_testbed demo

RELIABILITY_TESTS := tests/e2e/test_crash_safety.py tests/e2e/test_gitlab_faults.py \
	tests/e2e/test_kubernetes_faults.py tests/e2e/test_bad_input.py tests/e2e/test_isolation.py \
	tests/e2e/test_secrets_never_leak.py

RELIABILITY_KIND_TESTS := tests/kind/test_kind_kills.py tests/kind/test_kind_peering.py

reliability: venv controlplane system kind ## Run the reliability tests (both tiers); write docs/reliability.md
	rm -f .reliability.jsonl
	GITLAB_FERRY_RELIABILITY_REPORT=$(CURDIR)/.reliability.jsonl $(BIN)/pytest -q $(RELIABILITY_TESTS)
	set -a && source <($(KIND_SH) env) && set +a && \
	GITLAB_FERRY_RELIABILITY_REPORT=$(CURDIR)/.reliability.jsonl \
	PATH="$(CURDIR)/$(VENV)/bin:$(CACHE)/bin:$$PATH" $(BIN)/pytest -q $(RELIABILITY_KIND_TESTS)
	$(BIN)/python tools/reliability_report.py .reliability.jsonl docs/reliability.md

bench: setup ## Run the benchmarks and write docs/benchmarks.md
	PATH="$(CURDIR)/$(VENV)/bin:$(CACHE)/bin:$$PATH" $(BIN)/python -m bench

clean: ## Remove the virtual environment and build outputs
	rm -rf $(VENV) tools/controlplane/bin .pytest_cache .mypy_cache .ruff_cache
