# watchparty developer tasks. `make` alone lists them.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Go may be installed but not on PATH (e.g. /usr/local/go/bin on a fresh machine).
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
ifneq ($(findstring /,$(GO)),)
export PATH := $(PATH):$(patsubst %/,%,$(dir $(GO)))
endif

BIN := bin

.PHONY: help deps build run test bench clean distclean

help: ## list the targets
	@echo "usage: make <target>"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-10s %s\n", $$1, $$2}'

deps: ## check for (and as root on Debian install) Go, redis-server, PostgreSQL, a C compiler
	@bash scripts/deps.sh

build: ## build every binary into bin/ (gateway, flusher, wpclient)
	$(GO) build -o $(BIN)/ ./cmd/...

run: ## run Redis, PostgreSQL, gateway and flusher locally, with a demo party (Ctrl-C stops all)
	@bash scripts/run.sh

test: deps ## go vet, then every test with -race (starts its own throwaway Redis/PostgreSQL)
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	cd deploy/checks && $(GO) vet ./... && $(GO) test -race -count=1 -timeout 20m ./...

bench: deps ## run the benchmarks in ./bench once each
	@test -d bench || { echo "make bench: there is no ./bench package yet" >&2; exit 1; }
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./bench/...

clean: ## remove bin/
	rm -rf $(BIN)

distclean: clean ## also remove .run/ (data and logs of the Redis/PostgreSQL that `make run` started)
	rm -rf .run
