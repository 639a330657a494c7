package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/watchparty/watchparty/internal/event"
)

// Foreign-key checks cost PostgreSQL about as much per row as the COPY
// itself (measured in bench: one trigger query per row). Every row of a
// batch points at one of a handful of parties, so when the role may do it
// the writer turns the per-row FK triggers off for its transaction
// (session_replication_role = replica, as pg_restore and logical
// replication do) and gives the same guarantee once per party instead: it
// locks each party row FOR KEY SHARE, exactly what the FK trigger takes,
// and refuses the batch with SQLSTATE 23503 if one is missing. Roles
// without that permission keep the FK triggers. Unique and CHECK
// constraints are not triggers and always apply.
//
// The permission is found out once, but it may be revoked while the
// flusher runs (REVOKE SET ON PARAMETER, ALTER ROLE ... NOSUPERUSER, or the
// UPDATE privilege the FOR KEY SHARE lock needs). A fast-path statement
// refused with insufficient_privilege (42501) therefore forgets the answer
// and the batch is written again at once, the permission checked afresh,
// so a revocation costs one rolled-back transaction, not every flush.

// replicaRole says whether this role may set session_replication_role.
type replicaRole struct {
	state atomic.Int32 // 0 unknown, 1 allowed, 2 denied
}

// errFastPathRefused marks a fast-path statement that PostgreSQL refused
// for lack of privilege; the transaction is lost but the batch is not at
// fault.
var errFastPathRefused = errors.New("fast write path refused")

// refused reports whether err is insufficient_privilege (42501).
func refused(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42501"
}

// lost records that the fast path was refused: the next transaction finds
// the permission out again (state 0), or, when the lock itself was refused,
// keeps to the FK triggers (state 2), which need no privilege of the writer.
func (r *replicaRole) lost(lockRefused bool) {
	if lockRefused {
		r.state.Store(2)
		return
	}
	r.state.Store(0)
}

// enter turns the FK triggers off for tx when allowed, reporting whether it
// did; an unknown permission is found out under a savepoint.
func (r *replicaRole) enter(ctx context.Context, tx pgx.Tx) (bool, error) {
	switch r.state.Load() {
	case 2:
		return false, nil
	case 1:
		_, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica")
		if refused(err) {
			r.lost(false)
			return false, fmt.Errorf("%w: %w", errFastPathRefused, err)
		}
		return err == nil, err
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT wp_role"); err != nil {
		return false, err
	}
	_, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica")
	if refused(err) {
		r.state.Store(2)
		_, err = tx.Exec(ctx, "ROLLBACK TO SAVEPOINT wp_role")
		return false, err
	}
	if err != nil {
		return false, err
	}
	r.state.Store(1)
	_, err = tx.Exec(ctx, "RELEASE SAVEPOINT wp_role")
	return true, err
}

// lockParties takes FOR KEY SHARE locks on the parties of events, in id
// order, and returns a 23503 error naming one that does not exist.
func lockParties(ctx context.Context, tx pgx.Tx, events []event.Event) error {
	ids := make([][16]byte, 0, 4)
	for _, e := range events {
		if id := raw(e.PartyID); !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b [16]byte) int { return slices.Compare(a[:], b[:]) })
	rows, err := tx.Query(ctx, `SELECT id FROM watch_parties WHERE id = ANY($1) ORDER BY id FOR KEY SHARE`, ids)
	if err != nil {
		return fmt.Errorf("lock parties: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[[16]byte])
	if err != nil {
		return fmt.Errorf("lock parties: %w", err)
	}
	for _, id := range ids {
		if !slices.Contains(found, id) {
			return fmt.Errorf("write events: %w", &pgconn.PgError{Severity: "ERROR", Code: "23503",
				Message: fmt.Sprintf("events violate foreign key constraint: party %s is not present in table \"watch_parties\"", uuid.UUID(id))})
		}
	}
	return nil
}

// PartyExists reports whether party has a row in watch_parties. The flusher
// asks once when a whole batch fails permanently: without the row every
// event of the party fails alike, and isolating them one by one is useless.
func (w *Writer) PartyExists(ctx context.Context, party uuid.UUID) (bool, error) {
	var ok bool
	err := w.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM watch_parties WHERE id = $1)`, raw(party)).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look party %s up: %w", party, err)
	}
	return ok, nil
}
