// Package bench holds the project's end-to-end benchmarks: flusher
// throughput against a raw COPY of the same rows, gateway ingest against
// one XADD per round trip, and fan-out and per-channel ingest of the gateway
// binary beside Centrifugo (when installed). Each benchmark starts its own
// throwaway Redis and PostgreSQL (internal/testenv) and compares against a
// baseline measured in the same run; run them with `make bench`. The package
// has no code of its own besides its tests. It is this project's code, not a
// public API.
package bench
