package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/watchparty/watchparty/internal/event"
)

// EventTables are the tables holding a person's events, in the order an
// erasure empties them.
var EventTables = []string{"watch_party_chats", "watch_party_likes", "watch_party_logs"}

// Unattributed is the user id an erasure leaves where a row that is not
// the person's own names them as who acted: the host of a party, who
// deleted a chat, who took a moderation action. It is empty, which no
// token or dev-auth user can carry, so nobody can act as it.
const Unattributed = ""

// Erasure is the erasure of UserID's events in Party (uuid.Nil: in every
// party) up to At.
type Erasure struct {
	UserID string
	Party  uuid.UUID
	At     time.Time
}

// Covers reports whether e covers an event of user in party whose stream
// entry id is streamID ("" when it has none), created at createdAt.
func (e Erasure) Covers(user string, party uuid.UUID, streamID string, createdAt time.Time) bool {
	return user == e.UserID && (e.Party == uuid.Nil || party == e.Party) && until(e.At, streamID, createdAt)
}

// until reports whether an event comes at or before at: by its stream
// entry id's millisecond, which is Redis's clock when it appended the
// event, or, for an event without one (written by code that never
// appended it, or dead-lettered before events kept their stream id), by
// when its gateway accepted it.
func until(at time.Time, streamID string, createdAt time.Time) bool {
	if p, err := event.ParsePosition(streamID); err == nil {
		return p.MS <= at.UnixMilli()
	}
	return !createdAt.After(at)
}

// Erasures are the erasures recorded for some users (Writer.WithErasures).
// The zero value holds none.
type Erasures struct{ at map[erasureKey]time.Time }

type erasureKey struct {
	user  string
	party uuid.UUID
}

// Covers reports whether one of the erasures covers an event (see
// Erasure.Covers).
func (es Erasures) Covers(user string, party uuid.UUID, streamID string, createdAt time.Time) bool {
	for _, p := range [2]uuid.UUID{uuid.Nil, party} {
		if at, ok := es.at[erasureKey{user, p}]; ok && until(at, streamID, createdAt) {
			return true
		}
	}
	return false
}

// LockWait bounds how RecordErasure waits for the erasure table's lock.
// Writes that start while it waits queue behind it, so Timeout is also the
// longest one attempt stalls the flushers.
type LockWait struct {
	Timeout  time.Duration // one attempt's wait; 0 means 1 s
	Attempts int           // attempts before giving up; 0 means 20
	Backoff  time.Duration // first pause between attempts, doubling up to 5 s; 0 means 200 ms
}

// maxLockBackoff caps the pause between two attempts to lock the table.
const maxLockBackoff = 5 * time.Second

func (w LockWait) withDefaults() LockWait {
	if w.Timeout <= 0 {
		w.Timeout = time.Second
	}
	if w.Attempts <= 0 {
		w.Attempts = 20
	}
	if w.Backoff <= 0 {
		w.Backoff = 200 * time.Millisecond
	}
	return w
}

// ErrErasureLocked says RecordErasure gave up waiting for the erasure
// table's lock: a transaction kept holding it.
var ErrErasureLocked = errors.New("the erasure table stayed locked")

// RecordErasure records that e's events must not be stored, and returns
// the erasure's time: e.At, or a later time an earlier erasure of the same
// user and party recorded (an erasure never moves back).
//
// It first waits for every open transaction that has read the erasures (a
// write, see dropErased; a dead-lettering, see WithErasures) to end, and
// holds new ones until it commits: a write that checked before the
// erasure and commits after it would otherwise store rows the erasure has
// already deleted. Each attempt waits for the lock at most wait.Timeout,
// so that the writes queued behind it go on; after wait.Attempts it
// returns ErrErasureLocked, wrapped. It returns ctx's error if ctx ends
// first.
func RecordErasure(ctx context.Context, db *pgxpool.Pool, e Erasure, wait LockWait) (time.Time, error) {
	wait = wait.withDefaults()
	pause := wait.Backoff
	for attempt := 1; ; attempt++ {
		at, err := recordErasure(ctx, db, e, wait.Timeout)
		switch {
		case err == nil:
			return at, nil
		case SQLState(err) != pgerrcode.LockNotAvailable:
			return time.Time{}, fmt.Errorf("record erasure of %s: %w", e.UserID, err)
		case attempt == wait.Attempts:
			return time.Time{}, fmt.Errorf("record erasure of %s: %w (%d attempts of %s; see pg_locks for who holds watch_party_erasures)",
				e.UserID, ErrErasureLocked, attempt, wait.Timeout)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("record erasure of %s: %w", e.UserID, ctx.Err())
		case <-time.After(pause/2 + rand.N(pause/2+1)):
		}
		pause = min(2*pause, maxLockBackoff)
	}
}

func recordErasure(ctx context.Context, db *pgxpool.Pool, e Erasure, lockTimeout time.Duration) (time.Time, error) {
	var at time.Time
	err := inTx(ctx, db, func(tx pgx.Tx) error {
		timeout := fmt.Sprintf("%dms", max(lockTimeout.Milliseconds(), 1))
		if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true)`, timeout); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE watch_party_erasures IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO watch_party_erasures AS e (user_id, party_id, erased_at) VALUES ($1, $2, $3)
			ON CONFLICT (user_id, party_id) DO UPDATE SET erased_at = GREATEST(e.erased_at, excluded.erased_at)
			RETURNING erased_at`, e.UserID, e.Party, e.At).Scan(&at)
	})
	return at, err
}

// RowsErased counts what EraseRows changed.
type RowsErased struct {
	Deleted map[string]int64 // table (one of EventTables) -> the person's rows deleted
	Actions int64            // the person's moderation actions (log rows) kept, unattributed
	Deletes int64            // chats the person deleted as a moderator, deleted_by unattributed
	Parties int64            // parties the person hosted, host_user_id unattributed
}

// EraseRows removes e's person from the stored rows, at most batch rows
// per transaction so that no lock is held long: it deletes their chats,
// likes and logs up to e.At, except their moderation actions, which stay
// as the party's record, unattributed like those the writer stores after
// the erasure (dropErased); and it unattributes the chats they deleted as
// a moderator and the parties they hosted (in e.Party, or all), which keep
// working: a party without a host runs to its end time, and nobody may
// end it early, moderate it or, unless everyone may, control its playback.
// It is idempotent.
func EraseRows(ctx context.Context, db *pgxpool.Pool, e Erasure, batch int) (RowsErased, error) {
	r := RowsErased{Deleted: map[string]int64{}}
	scope := `($2 = '00000000-0000-0000-0000-000000000000'::uuid OR party_id = $2)`
	at, ms := event.Millis(e.At), e.At.UnixMilli()
	steps := []struct {
		what  string
		n     *int64
		query string
		args  []any
	}{
		{"moderation actions", &r.Actions, `UPDATE watch_party_logs SET user_id = '' WHERE ctid = ANY(ARRAY(
			SELECT ctid FROM watch_party_logs WHERE user_id = $1 AND ` + scope + ` AND created_at <= $4
			AND action = ANY($5) LIMIT $3))`, []any{at, moderationActions()}},
		{"chats deleted", &r.Deletes, `UPDATE watch_party_chats SET deleted_by = '' WHERE ctid = ANY(ARRAY(
			SELECT ctid FROM watch_party_chats WHERE deleted_by = $1 AND ` + scope + ` AND deleted_at <= $4 LIMIT $3))`,
			[]any{at}},
		{"parties hosted", &r.Parties, `UPDATE watch_parties SET host_user_id = '', updated_at = now() WHERE ctid = ANY(ARRAY(
			SELECT ctid FROM watch_parties WHERE host_user_id = $1
			AND ($2 = '00000000-0000-0000-0000-000000000000'::uuid OR id = $2) LIMIT $3))`, nil},
		{"watch_party_chats", nil, `DELETE FROM watch_party_chats WHERE ctid = ANY(ARRAY(
			SELECT ctid FROM watch_party_chats WHERE user_id = $1 AND ` + scope + ` AND stream_ms <= $4 LIMIT $3))`,
			[]any{ms}},
		{"watch_party_likes", nil, `DELETE FROM watch_party_likes WHERE ctid = ANY(ARRAY(
			SELECT ctid FROM watch_party_likes WHERE user_id = $1 AND ` + scope + ` AND created_at <= $4 LIMIT $3))`,
			[]any{at}},
		{"watch_party_logs", nil, `DELETE FROM watch_party_logs WHERE ctid = ANY(ARRAY(
			SELECT ctid FROM watch_party_logs WHERE user_id = $1 AND ` + scope + ` AND created_at <= $4
			AND action <> ALL($5) LIMIT $3))`, []any{at, moderationActions()}},
	}
	for _, s := range steps {
		n, err := inBatches(ctx, db, s.query, append([]any{e.UserID, e.Party, batch}, s.args...))
		if s.n != nil {
			*s.n = n
		} else {
			r.Deleted[s.what] = n
		}
		if err != nil {
			return r, fmt.Errorf("erase %s of %s: %w", s.what, e.UserID, err)
		}
	}
	return r, nil
}

// inBatches runs q, which changes at most args[2] rows, until it changes
// fewer, and returns how many rows it changed in all.
func inBatches(ctx context.Context, db *pgxpool.Pool, q string, args []any) (int64, error) {
	batch := int64(args[2].(int))
	var total int64
	for {
		tag, err := db.Exec(ctx, q, args...)
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < batch {
			return total, nil
		}
	}
}

func moderationActions() []string {
	types := event.ModerationTypes()
	out := make([]string, len(types))
	for i, t := range types {
		out[i] = string(t)
	}
	return out
}

// WithErasures reads the erasures of users and calls fn with them, in a
// transaction that RecordErasure waits for: no erasure is recorded until
// fn returns. So events fn keeps out of sight of an erasure (dead-letters
// them) are either left out by it, or in place before the erasure starts
// removing. An error of fn is returned as it is.
func (w *Writer) WithErasures(ctx context.Context, users []string, fn func(Erasures) error) error {
	return inTx(ctx, w.db, func(tx pgx.Tx) error {
		es, err := w.readErasures(ctx, tx, users)
		if err != nil {
			return err
		}
		return fn(es)
	})
}

// dropErased returns events without those an erasure covers. A covered
// moderation action is kept, unattributed, as EraseRows keeps the stored
// ones: it is the party's record of what was done to others, and a delete
// must go on hiding its chat. One query per write reads the erasures of
// the batch's users; it holds a share lock on the table until the write
// commits (see RecordErasure).
func (w *Writer) dropErased(ctx context.Context, tx pgx.Tx, events []event.Event) ([]event.Event, error) {
	es, err := w.readErasures(ctx, tx, usersOf(events))
	if err != nil || es.at == nil {
		return events, err
	}
	kept := make([]event.Event, 0, len(events))
	for _, e := range events {
		if es.Covers(e.UserID, e.PartyID, e.StreamID, e.CreatedAt) {
			if !e.Type.IsModeration() {
				continue
			}
			e.UserID = Unattributed
		}
		kept = append(kept, e)
	}
	return kept, nil
}

// readErasures reads the erasures of users, once the erasure table exists
// (migration 7: a flusher may start before its database is migrated).
func (w *Writer) readErasures(ctx context.Context, tx pgx.Tx, users []string) (Erasures, error) {
	if len(users) == 0 {
		return Erasures{}, nil
	}
	if !w.erasures.Load() {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('watch_party_erasures') IS NOT NULL`).Scan(&exists); err != nil {
			return Erasures{}, fmt.Errorf("look for the erasure table: %w", err)
		}
		if !exists {
			return Erasures{}, nil
		}
		w.erasures.Store(true)
	}
	rows, err := tx.Query(ctx, `SELECT user_id, party_id, erased_at FROM watch_party_erasures WHERE user_id = ANY($1)`, users)
	if err != nil {
		return Erasures{}, fmt.Errorf("read erasures: %w", err)
	}
	defer rows.Close()
	var es Erasures
	for rows.Next() {
		var k erasureKey
		var at time.Time
		if err := rows.Scan(&k.user, &k.party, &at); err != nil {
			return Erasures{}, fmt.Errorf("read erasures: %w", err)
		}
		if es.at == nil {
			es.at = map[erasureKey]time.Time{}
		}
		es.at[k] = at
	}
	if err := rows.Err(); err != nil {
		return Erasures{}, fmt.Errorf("read erasures: %w", err)
	}
	return es, nil
}

// usersOf returns the distinct user ids of events, anonymous ones left out.
func usersOf(events []event.Event) []string {
	seen := map[string]bool{}
	var users []string
	for _, e := range events {
		if e.UserID != "" && !seen[e.UserID] {
			seen[e.UserID] = true
			users = append(users, e.UserID)
		}
	}
	return users
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
