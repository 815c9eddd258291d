# Ingest API — everything a fresh machine needs goes through these targets.
# `make serve` and `make test` install what they need themselves (Python venv, pinned Node tools).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NODE_BIN := $(CURDIR)/node_modules/.bin
# Node 22 from node_modules first on PATH: jsii warns on every synth under Node 20.
WITH_NODE := PATH=$(NODE_BIN):$(CURDIR)/$(VENV)/bin:$$PATH
ENV ?= dev
E ?= datahub_events
F ?= events/datahub_events/valid_guide_sample.json

export PYTHONPATH := $(CURDIR)/layers/runtime/python:$(CURDIR)

.PHONY: help install serve invoke keys handlers imports test test-fast synth bench events clean lock cost

help:
	@echo "make serve   run the whole service on 127.0.0.1:\$${PORT:-3000} (embedded moto on \$${EMULATOR_PORT:-4566})"
	@echo "make test    import contract, unit, integration (moto), e2e (real HTTP), infra (template, cdk-nag, cfn-lint) + cdk synth"
	@echo "make imports the import contract alone (pyproject.toml [tool.importlinter]): which layer may import which"
	@echo "make invoke  E=<endpoint> F=<events file>: call one handler with a sample API Gateway event"
	@echo "make keys    ARGS='create --tenant acme --scope datahub': the key CLI against make serve's emulator"
	@echo "make synth   ENV=<name>: cdk synth for one environment of cdk.json"
	@echo "make bench   every family: CPU vs. its floor, round trips, write units, 5 MiB body, cold start -> bench/results.json"
	@echo "make handlers  write functions/<route>/handler.py for every catalog route that has none"
	@echo "make lock    re-pin the dependency layer's closure with hashes (layers/deps/requirements.lock.txt)"
	@echo "make cost    ENV=<name>: docs/cost.md, cost per million events per family, from the synthesized template"

$(VENV)/.installed: requirements-dev.txt layers/deps/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

serve: $(VENV)/.installed
	$(PY) -m local.server

invoke: $(VENV)/.installed
	$(PY) -m local.invoke $(E) $(F)

# The key CLI (docs/keys.md); defaults to the emulator of a running `make serve`.
keys: $(VENV)/.installed
	AWS_ENDPOINT_URL=$${AWS_ENDPOINT_URL:-http://127.0.0.1:$${EMULATOR_PORT:-4566}} $(PY) -m cli keys $(ARGS)

# One small handler per route, written from the catalog (a test fails when a folder disagrees).
handlers: $(VENV)/.installed
	$(PY) -m local.scaffold

# The layers (pyproject.toml [tool.importlinter]): under a second, so no cache directory to keep.
imports: $(VENV)/.installed
	$(VENV)/bin/lint-imports --no-cache --no-logo

# Two workers (pytest-xdist): about 11 min instead of 20 on a 2-core machine; every test owns its
# tenant, keys and emulator state, so the order does not matter.
test: install imports
	$(WITH_NODE) $(PY) -m pytest -q -n 2
	$(MAKE) --no-print-directory synth ENV=dev

test-fast: $(VENV)/.installed imports
	$(PY) -m pytest -q -m "not infra" --ignore=tests/infra

synth: install
	$(WITH_NODE) cdk synth -c env=$(ENV) --quiet --output cdk.out/$(ENV)
	$(VENV)/bin/cfn-lint --config-file infra/cfnlintrc.yaml cdk.out/$(ENV)/*.template.json

# The dependency layer's full closure with every wheel's sha256, for arm64 (Lambda) and x86_64 (the
# deployed-layout test's twin): run after changing layers/deps/requirements.txt (needs the index).
lock: $(VENV)/.installed
	$(PY) -m infra.layer_lock

bench: $(VENV)/.installed
	$(PY) -m bench.bench_pipeline

# docs/cost.md from the synthesized template of ENV and the items the service writes (moto in-process).
cost: synth
	$(PY) -m bench.cost --env $(ENV)

events: $(VENV)/.installed
	for script in events/make_*.py; do $(PY) -m events.$$(basename $$script .py) || exit 1; done

clean:
	rm -rf cdk.out build .pytest_cache
