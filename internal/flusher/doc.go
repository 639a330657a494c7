// Package flusher moves party events from Redis streams into PostgreSQL.
// It reads every registered party's stream through consumer group
// "flushers" (Source), writes each batch in one transaction (Writer) and
// acknowledges it only after the commit. A batch that fails for its data
// is bisected so that its good events are still written and acknowledged;
// an event that failed WATCH_PARTY_MAX_DELIVERIES times, or every event of
// a party without its row, goes to the dead-letter list (DeadLetters). A
// failed cycle is retried with a doubling, jittered backoff. It also keeps
// the backlog gauges and, through FlushParty, Parties and Backlog, serves
// the final flush of a finished party to internal/lifecycle, which runs the
// party scheduler.
//
// Files: flusher.go (the loop and one party's flush), poison.go (bisection
// and dead-lettering), ports.go (the interfaces it depends on and their
// Redis and PostgreSQL adapters), backlog.go (gauges), metrics.go.
package flusher
