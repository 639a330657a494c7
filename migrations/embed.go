// Package migrations holds the PostgreSQL schema as numbered SQL files, embedded
// into the flusher binary so `flusher migrate` needs nothing beside it.
// It is this project's code, not a public API.
package migrations

import "embed"

// FS holds every *.sql migration, named NNNNNN_name.{up,down}.sql.
//
//go:embed *.sql
var FS embed.FS
