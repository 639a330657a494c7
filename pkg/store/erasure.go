package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/watchparty/watchparty/pkg/event"
)

// EventTables are the tables holding a person's events, in the order an
// erasure empties them.
var EventTables = []string{"watch_party_chats", "watch_party_likes", "watch_party_logs"}

// RecordErasure records that user's events in party (uuid.Nil: in every
// party) created until now must not be stored, and returns that moment.
// A second erasure of the same user and party moves it forward.
//
// It first waits for every open write that has read the erasures (see
// dropErased) to end, and holds new ones until it commits: a write that
// checked before the erasure and commits after it would otherwise store
// rows the erasure has already deleted.
func RecordErasure(ctx context.Context, db *pgxpool.Pool, user string, party uuid.UUID) (time.Time, error) {
	var at time.Time
	err := inTx(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE watch_party_erasures IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO watch_party_erasures (user_id, party_id, erased_at) VALUES ($1, $2, now())
			ON CONFLICT (user_id, party_id) DO UPDATE SET erased_at = excluded.erased_at
			RETURNING erased_at`, user, party).Scan(&at)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("record erasure of %s: %w", user, err)
	}
	return at, nil
}

// DeleteUserRows deletes user's rows of table (one of EventTables) in
// party (uuid.Nil: in every party), at most batch rows per transaction so
// that no lock is held long, and returns how many it deleted.
func DeleteUserRows(ctx context.Context, db *pgxpool.Pool, table, user string, party uuid.UUID, batch int) (int64, error) {
	q := `DELETE FROM ` + pgx.Identifier{table}.Sanitize() + ` WHERE ctid = ANY(ARRAY(
		SELECT ctid FROM ` + pgx.Identifier{table}.Sanitize() + `
		WHERE user_id = $1 AND ($2 = '00000000-0000-0000-0000-000000000000'::uuid OR party_id = $2) LIMIT $3))`
	var total int64
	for {
		tag, err := db.Exec(ctx, q, user, party, batch)
		if err != nil {
			return total, fmt.Errorf("delete %s rows of %s: %w", table, user, err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batch) {
			return total, nil
		}
	}
}

// dropErased returns events without those an erasure covers: of an erased
// user, in the erased party (or any), created at or before the erasure.
// One query per write reads the erasures of the batch's users; it holds a
// share lock on the table until the write commits (see RecordErasure).
func dropErased(ctx context.Context, tx pgx.Tx, events []event.Event) ([]event.Event, error) {
	seen := map[string]bool{}
	var users []string
	for _, e := range events {
		if e.UserID != "" && !seen[e.UserID] {
			seen[e.UserID] = true
			users = append(users, e.UserID)
		}
	}
	if len(users) == 0 {
		return events, nil
	}
	rows, err := tx.Query(ctx, `SELECT user_id, party_id, erased_at FROM watch_party_erasures WHERE user_id = ANY($1)`, users)
	if err != nil {
		return nil, fmt.Errorf("read erasures: %w", err)
	}
	type key struct {
		user  string
		party uuid.UUID
	}
	erased := map[key]time.Time{}
	for rows.Next() {
		var k key
		var at time.Time
		if err := rows.Scan(&k.user, &k.party, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read erasures: %w", err)
		}
		erased[k] = at
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read erasures: %w", err)
	}
	if len(erased) == 0 {
		return events, nil
	}
	covered := func(e event.Event) bool {
		for _, p := range []uuid.UUID{uuid.Nil, e.PartyID} {
			if at, ok := erased[key{e.UserID, p}]; ok && !e.CreatedAt.After(at) {
				return true
			}
		}
		return false
	}
	kept := make([]event.Event, 0, len(events))
	for _, e := range events {
		if !covered(e) {
			kept = append(kept, e)
		}
	}
	return kept, nil
}

// DeleteOlderThan deletes at most batch rows of table (an event table with
// created_at) created before cutoff, in one transaction, and returns how
// many it deleted.
func DeleteOlderThan(ctx context.Context, db *pgxpool.Pool, table string, cutoff time.Time, batch int) (int64, error) {
	t := pgx.Identifier{table}.Sanitize()
	tag, err := db.Exec(ctx, `DELETE FROM `+t+` WHERE ctid = ANY(ARRAY(
		SELECT ctid FROM `+t+` WHERE created_at < $1 LIMIT $2))`, cutoff, batch)
	if err != nil {
		return 0, fmt.Errorf("delete %s rows older than %s: %w", table, cutoff.Format(time.RFC3339), err)
	}
	return tag.RowsAffected(), nil
}
