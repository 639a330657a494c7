// Package store writes party events to PostgreSQL in bulk, idempotently, and
// reads and updates parties. It is this project's code, not a public API.
package store
