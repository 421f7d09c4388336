# Quick start: `make run` serves the shipped config, `make test` runs the suite.
# Both create .venv and install the project on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NPM_DIR := tests/.npm
NPM_STAMP := $(NPM_DIR)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
EVERYTHING_VERSION := 2026.8.31

ROUTER_CONFIG ?= config/router.json
ROUTER_LISTEN ?= 127.0.0.1:50051
ENHANCER_LISTEN ?= 127.0.0.1:50052
PYTEST_ARGS ?=
BENCH_ARGS ?= --profile 10
SOAK_SMALL_CALLS ?= 300
SOAK_CALLS ?= 5000

# Servers in the config are found on PATH, so the venv's console scripts
# (mcp-server-time) resolve without an absolute path.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install run test soak bench proto clean tools

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(NPM_STAMP):
	mkdir -p $(NPM_DIR)
	test -f $(NPM_DIR)/package.json || echo '{"private": true}' > $(NPM_DIR)/package.json
	cd $(NPM_DIR) && npm install --no-audit --no-fund --silent @modelcontextprotocol/server-everything@$(EVERYTHING_VERSION)
	touch $(NPM_STAMP)

# Both services, wired together: the enhancer runs in the background for as
# long as the router runs, and Ctrl-C stops both.
run: $(STAMP)
	$(BIN)/enhancer-service --listen $(ENHANCER_LISTEN) & enhancer=$$!; \
	trap 'kill $$enhancer 2>/dev/null; wait $$enhancer' EXIT INT TERM; \
	$(BIN)/router-service --config $(ROUTER_CONFIG) --listen $(ROUTER_LISTEN) --enhancer $(ENHANCER_LISTEN)

# Debian's docker-compose validates docker-compose.yml in a test; no Docker engine is needed.
tools:
	@command -v docker-compose >/dev/null || { \
	  if [ "$$(id -u)" -ne 0 ]; then echo "docker-compose is missing: install Debian's docker-compose package" >&2; exit 1; fi; \
	  apt-get install -y -qq docker-compose >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq docker-compose; }; }

# `make test` ends with a small soak; `make soak` runs a larger one (calls set by SOAK_CALLS).
test: $(STAMP) $(NPM_STAMP) tools
	$(BIN)/python -m pytest -m "not soak" $(PYTEST_ARGS)
	SOAK_CALLS=$(SOAK_SMALL_CALLS) $(BIN)/python -m pytest -m soak $(PYTEST_ARGS) tests/test_soak.py

soak: $(STAMP)
	SOAK_CALLS=$(SOAK_CALLS) $(BIN)/python -m pytest -m soak -s $(PYTEST_ARGS) tests/test_soak.py

# The router against direct stdio, the gRPC floor and mcp-proxy (in its own
# virtualenv under bench/); tables on stdout, figures in bench/results/.
# BENCH_ARGS=--quick checks every section in about a minute.
bench: $(BENCH_STAMP) $(NPM_STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Iprotos --python_out=. --pyi_out=. --grpc_python_out=. protos/mcp_router/v1/*.proto

clean:
	rm -rf $(VENV) $(NPM_DIR) build *.egg-info
