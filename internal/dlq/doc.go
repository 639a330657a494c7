// Package dlq keeps the batches of events that could not be written to
// PostgreSQL in the Redis list wp:dlq, shows them to operators and replays
// them.
//
// Each element of the list is one JSON document in the SPEC §6 format, plus
// a "raw" array of {"stream_id","fields"} when the flusher could not decode
// some entries (an event type newer than it): those are kept whole and
// decoded by the replay. A replay marks the batch it is writing with a
// "replaying" claim inside that document, in place, so a batch never leaves
// the list before its commit. The list's name and the script that edits it
// in place are kept in package rdb.
package dlq
