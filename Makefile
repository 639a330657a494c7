# watchparty developer tasks. `make` alone lists them.

SHELL := /bin/bash
.DEFAULT_GOAL := help

BIN := bin

# The go command: the one scripts/deps.sh names, at least the version go.mod asks for (a go
# on PATH that is new enough, or the exact toolchain deps.sh installed). An older go on
# PATH, such as Debian's golang-go, is never used. `make GO=/path/to/go ...` picks one by
# hand. Looked up once, when a recipe first needs it (after the deps target ran).
GO ?= $(eval GO := $(or $(shell bash scripts/deps.sh --which-go),$(error no usable Go; run scripts/deps.sh)))$(GO)
# Every Go command runs with that go first on PATH, so that the tests, which run `go build`
# themselves, and scripts/run.sh get the same one; and without a GOROOT of another Go.
WITH_GO = env -u GOROOT PATH="$(dir $(shell command -v $(GO))):$$PATH"

.PHONY: help deps go build run test test-short test-bootstrap bench bench-fanout bench-peer clean distclean

help: ## list the targets
	@echo "usage: make <target>"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-15s %s\n", $$1, $$2}'

deps: ## install what is missing (Go of go.mod's version, make, gcc, Redis, PostgreSQL, Chromium) and check
	@bash scripts/deps.sh

go: ## only the Go toolchain go.mod names (downloaded with Debian's golang-go when needed)
	@bash scripts/deps.sh --go

build: go ## build every binary into bin/ (gateway, flusher, wpclient)
	$(WITH_GO) go build -o $(BIN)/ ./cmd/...

run: deps ## run Redis, PostgreSQL, gateway and flusher locally, with a demo party (Ctrl-C stops all)
	@$(WITH_GO) bash scripts/run.sh

test: deps ## go vet, then every test with -race (starts its own throwaway Redis/PostgreSQL)
	$(WITH_GO) go vet ./...
	$(WITH_GO) go test -race -count=1 -timeout 45m ./...
	cd deploy/checks && $(WITH_GO) go vet ./... && $(WITH_GO) go test -race -count=1 -timeout 20m ./...

# The quick tier, to run before each commit (CI runs `make test`): -short skips what takes
# long by nature (faults such as killing Redis or PostgreSQL, failovers, Sentinel and
# Cluster, soak, scale, the browser and Node.js clients, long waits) and keeps the unit
# tests, the quicker integration tests and e2e's chat over a real WebSocket to PostgreSQL.
# No -race: race-built test binaries and e2e's race-built servers take it past two minutes
# on two cores. -vet=off because go vet has just run. Packages run one per core (go's
# default -p); more at once were slower on two cores. deploy/checks is left to `make test`.
test-short: deps ## go vet, then the quick tests with -short and without -race (under a minute on 2 cores)
	$(WITH_GO) go vet ./...
	$(WITH_GO) go test -short -vet=off -count=1 -timeout 10m ./...

test-bootstrap: ## as root: scripts/deps.sh brings up Go where none is reachable (CI runs it)
	timeout 900 bash scripts/test-bootstrap.sh

bench: deps ## run the benchmarks in ./bench once each
	@test -d bench || { echo "make bench: there is no ./bench package yet" >&2; exit 1; }
	$(WITH_GO) go test -run '^$$' -bench . -benchtime 1x -timeout 30m ./bench/...

# Where bench-peer installs the peer the fan-out benchmark compares against.
PEER_BIN ?= $(HOME)/.cache/watchparty-bench/bin
CENTRIFUGO_VERSION := v6.9.1

bench-fanout: deps ## only the fan-out benchmark (and Centrifugo beside it when installed); writes docs/bench-fanout.*
	$(WITH_GO) go test -run '^$$' -bench Fanout -benchtime 1x -timeout 20m ./bench/ -fanout.out=$(CURDIR)/docs

bench-peer: deps ## install Centrifugo v6.9.1 into ~/.cache/watchparty-bench/bin (once; builds for minutes), then run bench-fanout against it
	@$(WITH_GO) go version -m $(PEER_BIN)/centrifugo 2>/dev/null | grep -Eq 'mod[[:space:]]+github.com/centrifugal/centrifugo/v6[[:space:]]+$(CENTRIFUGO_VERSION)' || \
		{ echo "installing centrifugo $(CENTRIFUGO_VERSION) into $(PEER_BIN)"; \
		  $(WITH_GO) GOBIN=$(PEER_BIN) go install github.com/centrifugal/centrifugo/v6@$(CENTRIFUGO_VERSION); }
	$(WITH_GO) WATCHPARTY_BENCH_BIN=$(PEER_BIN) go test -run '^$$' -bench Fanout -benchtime 1x -timeout 20m ./bench/ \
		-fanout.peer=require -fanout.out=$(CURDIR)/docs

clean: ## remove bin/
	rm -rf $(BIN)

distclean: clean ## also remove .run/ (data and logs of the Redis/PostgreSQL that `make run` started)
	rm -rf .run
