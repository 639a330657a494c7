package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/watchparty/watchparty/internal/event"
)

// Writer writes batches of events to the four event tables, and marks the
// chats that delete events hide.
type Writer struct {
	db   *pgxpool.Pool
	role replicaRole
	// erasures is set once the erasure table exists (migration 7), and
	// moderation once the moderation columns do (migration 8): a flusher
	// may start before its database is migrated.
	erasures, moderation atomic.Bool
}

// NewWriter returns a Writer over db.
func NewWriter(db *pgxpool.Pool) *Writer { return &Writer{db: db} }

// Write stores events in one transaction, idempotently: an event already
// stored is skipped and never changed, and an event an erasure covers
// (RecordErasure) is left out, or stored unattributed if it is a
// moderation action. Either every row is committed or none.
// The error is the database's (see Classify).
func (w *Writer) Write(ctx context.Context, events []event.Event) error {
	return w.writeRetried(ctx, events, false)
}

// WriteReplayed is Write for events replayed from the dead-letter list,
// which may come after later events of their party: a chat whose delete
// was stored meanwhile is marked deleted as it is written.
func (w *Writer) WriteReplayed(ctx context.Context, events []event.Event) error {
	return w.writeRetried(ctx, events, true)
}

func (w *Writer) writeRetried(ctx context.Context, events []event.Event, replayed bool) error {
	err := w.write(ctx, events, replayed)
	if errors.Is(err, errFastPathRefused) {
		// A permission found earlier was revoked: nothing was written;
		// write again, the permission checked afresh.
		err = w.write(ctx, events, replayed)
	}
	return err
}

func (w *Writer) write(ctx context.Context, events []event.Event, replayed bool) error {
	return inTx(ctx, w.db, func(tx pgx.Tx) error {
		fast, err := w.role.enter(ctx, tx)
		if err != nil {
			return fmt.Errorf("begin write: %w", err)
		}
		if events, err = w.dropErased(ctx, tx, events); err != nil {
			return err
		}
		r := split(events)
		if fast {
			err := lockParties(ctx, tx, events)
			if refused(err) {
				w.role.lost(true)
				return fmt.Errorf("%w: %w", errFastPathRefused, err)
			}
			if err != nil {
				return err
			}
		}
		for _, t := range r.tables() {
			if len(t.rows) == 0 {
				continue
			}
			if err := writeTable(ctx, tx, t); err != nil {
				return err
			}
		}
		if err := writeCounts(ctx, tx, r.byTarget[event.Counts], replayed); err != nil {
			return err
		}
		if err := markDeleted(ctx, tx, r.deletes); err != nil {
			return err
		}
		if !replayed {
			return nil
		}
		return w.markDeletedBefore(ctx, tx, r.byTarget[event.Chats])
	})
}

// markDeletedBefore marks the chats of a replayed batch whose delete is
// already stored: a chat that comes back from the dead-letter list after
// its delete was flushed. (A party's stream is flushed in order, so the
// flusher itself never writes a chat after its delete.) It reads the batch's parties' deletes (a partial index
// holds only deletes) and marks those of their chats still unmarked, once
// the moderation columns exist; its cost grows with a party's deletes,
// not with the batch.
func (w *Writer) markDeletedBefore(ctx context.Context, tx pgx.Tx, chats []event.Event) error {
	if len(chats) == 0 {
		return nil
	}
	if !w.moderation.Load() {
		var exists bool
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
			WHERE attrelid = 'watch_party_logs'::regclass AND attname = 'target_event_id' AND NOT attisdropped)`).Scan(&exists)
		if err != nil {
			return fmt.Errorf("look for the moderation columns: %w", err)
		}
		if !exists {
			return nil
		}
		w.moderation.Store(true)
	}
	parties := make([][16]byte, 0, 1)
	for _, e := range chats {
		if p := raw(e.PartyID); !slices.Contains(parties, p) {
			parties = append(parties, p)
		}
	}
	// The parties' deletes are read from the partial index of deletes
	// (usually empty); only their chats are then looked up, not the batch's.
	_, err := tx.Exec(ctx, `
		UPDATE watch_party_chats c SET deleted_at = l.created_at, deleted_by = l.user_id
		FROM (SELECT party_id, target_event_id, created_at, user_id FROM watch_party_logs
			WHERE action = 'delete' AND party_id = ANY($1::uuid[])) l
		WHERE c.party_id = l.party_id AND c.event_id = l.target_event_id AND c.deleted_at IS NULL`, parties)
	return wrapTable("watch_party_chats (earlier deletes)", err)
}

// markDeleted marks the chats that delete events hide, after the batch's
// chats were written (a chat and its delete may share a batch). A chat
// already marked keeps its first deleted_at and deleted_by; a delete of a
// chat that is not stored (yet) marks nothing.
func markDeleted(ctx context.Context, tx pgx.Tx, deletes []event.Event) error {
	if len(deletes) == 0 {
		return nil
	}
	slices.SortFunc(deletes, func(a, b event.Event) int { return bytes.Compare(a.TargetEvent[:], b.TargetEvent[:]) })
	parties, chats, by, at := make([][16]byte, len(deletes)), make([][16]byte, len(deletes)),
		make([]string, len(deletes)), make([]time.Time, len(deletes))
	for i, e := range deletes {
		parties[i], chats[i], by[i], at[i] = raw(e.PartyID), raw(e.TargetEvent), e.UserID, event.Millis(e.CreatedAt)
	}
	_, err := tx.Exec(ctx, `
		UPDATE watch_party_chats c SET deleted_at = d.at, deleted_by = d.by
		FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[]) AS d(party_id, event_id, by, at)
		WHERE c.party_id = d.party_id AND c.event_id = d.event_id AND c.deleted_at IS NULL`,
		parties, chats, by, at)
	return wrapTable("watch_party_chats (deletes)", err)
}

// inTx runs fn in a transaction and commits it when fn returns nil.
func inTx(ctx context.Context, db *pgxpool.Pool, fn func(pgx.Tx) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// writeTable copies rows straight into the table — the fast path, as fast as
// a raw COPY — inside a savepoint. Only when that meets a row that is
// already there (a redelivered batch) does it fall back to an INSERT that
// skips conflicting rows.
func writeTable(ctx context.Context, tx pgx.Tx, t table) error {
	if _, err := tx.Exec(ctx, "SAVEPOINT wp_copy"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.columns, pgx.CopyFromRows(t.rows))
	if err == nil {
		_, err = tx.Exec(ctx, "RELEASE SAVEPOINT wp_copy")
		return wrapTable(t.name, err)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return wrapTable(t.name, err)
	}
	if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT wp_copy"); err != nil {
		return wrapTable(t.name, err)
	}
	_, err = tx.Exec(ctx, t.insert, t.arrays()...)
	return wrapTable(t.name, err)
}

func wrapTable(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("write %s: %w", name, err)
}

// table is one event table's share of a batch, sorted by primary key so
// that concurrent writers lock rows in the same order.
type table struct {
	name    string
	columns []string
	insert  string // INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING
	rows    [][]any
}

// arrays turns rows into one array per column, for the unnest insert.
func (t table) arrays() []any {
	cols := make([]any, len(t.columns))
	for c := range t.columns {
		switch t.rows[0][c].(type) {
		case [16]byte:
			cols[c] = column[[16]byte](t.rows, c)
		case string:
			cols[c] = column[string](t.rows, c)
		case time.Time:
			cols[c] = column[time.Time](t.rows, c)
		case *int64:
			cols[c] = column[*int64](t.rows, c)
		case int32:
			cols[c] = column[int32](t.rows, c)
		case int64:
			cols[c] = column[int64](t.rows, c)
		case pgtype.Text:
			cols[c] = column[pgtype.Text](t.rows, c)
		case pgtype.UUID:
			cols[c] = column[pgtype.UUID](t.rows, c)
		case pgtype.Timestamptz:
			cols[c] = column[pgtype.Timestamptz](t.rows, c)
		}
	}
	return cols
}

func column[T any](rows [][]any, c int) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = r[c].(T)
	}
	return out
}

// batchRows is a batch's events by where they are stored.
type batchRows struct {
	byTarget map[event.Target][]event.Event
	deletes  []event.Event // events that hide a chat (also in their own target)
}

func split(events []event.Event) batchRows {
	r := batchRows{byTarget: make(map[event.Target][]event.Event, 4)}
	for _, e := range events {
		k := e.Type.Kind()
		target := k.Store
		if target == "" {
			target = event.Logs // an undeclared type fails there, alone in bisection
		}
		r.byTarget[target] = append(r.byTarget[target], e)
		if k.Hides {
			r.deletes = append(r.deletes, e)
		}
	}
	return r
}

// rowTargets are the targets stored a row per event (or per user, or
// sample), in the order a batch writes them, each with how it builds its
// share of a batch. The other target, event.Counts, is writeCounts'.
var rowTargets = []rowTarget{{event.Chats, chatTable}, {event.Likes, likeTable}, {event.Logs, logTable}, {event.ViewerCounts, viewerTable}}

type rowTarget struct {
	target event.Target
	table  func([]event.Event) table
}

// tables is the batch's shares of the row targets.
func (r batchRows) tables() []table {
	out := make([]table, len(rowTargets))
	for i, t := range rowTargets {
		out[i] = t.table(r.byTarget[t.target])
	}
	return out
}

// raw hands pgx a uuid as [16]byte, which it encodes directly; a
// uuid.UUID is a driver.Valuer that pgx formats to text and parses back,
// about 5 µs a row (measured in bench).
func raw(id uuid.UUID) [16]byte { return id }

func byEventID(a, b event.Event) int { return bytes.Compare(a.ID[:], b.ID[:]) }

func chatTable(es []event.Event) table {
	slices.SortFunc(es, byEventID)
	es = slices.CompactFunc(es, func(a, b event.Event) bool { return a.ID == b.ID })
	t := table{name: "watch_party_chats",
		columns: []string{"event_id", "party_id", "user_id", "body", "created_at", "stream_ms", "stream_seq"},
		insert: `INSERT INTO watch_party_chats (event_id, party_id, user_id, body, created_at, stream_ms, stream_seq)
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::bigint[], $7::bigint[])
			ON CONFLICT DO NOTHING`}
	for _, e := range es {
		pos := chatPosition(e)
		t.rows = append(t.rows, []any{raw(e.ID), raw(e.PartyID), e.UserID, e.Text, event.Millis(e.CreatedAt), pos.MS, pos.Seq})
	}
	return t
}

// logTable writes the moderation columns (migration 8) only for a batch
// that holds moderation events, so that a flusher started before its
// database was migrated still writes everything else.
func logTable(es []event.Event) table {
	slices.SortFunc(es, byEventID)
	es = slices.CompactFunc(es, func(a, b event.Event) bool { return a.ID == b.ID })
	if slices.ContainsFunc(es, func(e event.Event) bool { return e.Type.IsModeration() }) {
		return moderationLogTable(es)
	}
	t := table{name: "watch_party_logs", columns: []string{"event_id", "party_id", "user_id", "action", "position_ms", "created_at"},
		insert: `INSERT INTO watch_party_logs (event_id, party_id, user_id, action, position_ms, created_at)
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[])
			ON CONFLICT DO NOTHING`}
	for _, e := range es {
		t.rows = append(t.rows, []any{raw(e.ID), raw(e.PartyID), e.UserID, string(e.Type), e.PositionMS, event.Millis(e.CreatedAt)})
	}
	return t
}

// moderationLogTable is logTable with what a moderation event acted on.
func moderationLogTable(es []event.Event) table {
	t := table{name: "watch_party_logs",
		columns: []string{"event_id", "party_id", "user_id", "action", "position_ms", "created_at",
			"target_user_id", "target_event_id", "until"},
		insert: `INSERT INTO watch_party_logs (event_id, party_id, user_id, action, position_ms, created_at,
				target_user_id, target_event_id, until)
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[],
				$7::text[], $8::uuid[], $9::timestamptz[])
			ON CONFLICT DO NOTHING`}
	for _, e := range es {
		t.rows = append(t.rows, []any{raw(e.ID), raw(e.PartyID), e.UserID, string(e.Type), e.PositionMS, event.Millis(e.CreatedAt),
			pgtype.Text{String: e.Target, Valid: e.Target != ""},
			pgtype.UUID{Bytes: e.TargetEvent, Valid: e.TargetEvent != uuid.Nil},
			pgtype.Timestamptz{Time: event.Millis(e.Until), Valid: !e.Until.IsZero()}})
	}
	return t
}

// likeTable keeps each user's first like of the batch (stream order): a
// user likes a party at most once.
func likeTable(es []event.Event) table {
	slices.SortStableFunc(es, func(a, b event.Event) int {
		if c := bytes.Compare(a.PartyID[:], b.PartyID[:]); c != 0 {
			return c
		}
		if a.UserID < b.UserID {
			return -1
		}
		if a.UserID > b.UserID {
			return 1
		}
		return 0
	})
	es = slices.CompactFunc(es, func(a, b event.Event) bool { return a.PartyID == b.PartyID && a.UserID == b.UserID })
	t := table{name: "watch_party_likes", columns: []string{"party_id", "user_id", "event_id", "created_at"},
		insert: `INSERT INTO watch_party_likes (party_id, user_id, event_id, created_at)
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[])
			ON CONFLICT DO NOTHING`}
	for _, e := range es {
		t.rows = append(t.rows, []any{raw(e.PartyID), e.UserID, raw(e.ID), event.Millis(e.CreatedAt)})
	}
	return t
}

// viewerTable stores viewer-count samples; the event's created_at is the
// sample time, already truncated to the sampling interval.
func viewerTable(es []event.Event) table {
	slices.SortStableFunc(es, func(a, b event.Event) int {
		if c := bytes.Compare(a.PartyID[:], b.PartyID[:]); c != 0 {
			return c
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
	es = slices.CompactFunc(es, func(a, b event.Event) bool {
		return a.PartyID == b.PartyID && a.CreatedAt.Equal(b.CreatedAt)
	})
	t := table{name: "watch_party_viewer_counts", columns: []string{"party_id", "sampled_at", "viewers"},
		insert: `INSERT INTO watch_party_viewer_counts (party_id, sampled_at, viewers)
			SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::int[])
			ON CONFLICT DO NOTHING`}
	for _, e := range es {
		n := int32(0)
		if e.Viewers != nil {
			n = int32(*e.Viewers)
		}
		t.rows = append(t.rows, []any{raw(e.PartyID), event.Millis(e.CreatedAt), n})
	}
	return t
}
