// Package store writes party events to PostgreSQL in bulk, idempotently, and
// reads and updates parties.
package store
