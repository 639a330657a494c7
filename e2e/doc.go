// Package e2e drives the built gateway and flusher binaries end to end over
// real WebSockets, Redis and PostgreSQL. It holds tests only and is this
// project's code, not a public API.
package e2e
