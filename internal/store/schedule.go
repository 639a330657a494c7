package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Each status transition is one UPDATE guarded by the status it leaves, so
// two schedulers acting at once can never both move one party.

// StartDue moves SCHEDULED parties whose start_time has come (and whose
// end_time has not) to ONGOING and returns their ids.
func (s *Parties) StartDue(ctx context.Context) ([]uuid.UUID, error) {
	return s.ids(ctx, "start parties", `UPDATE watch_parties
		SET status = 'ONGOING', started_at = now(), updated_at = now()
		WHERE status = 'SCHEDULED' AND start_time <= now() AND end_time > now()
		RETURNING id`)
}

// FinishMissed moves SCHEDULED parties whose end_time has already passed
// straight to FINISHED and returns their ids.
func (s *Parties) FinishMissed(ctx context.Context) ([]uuid.UUID, error) {
	return s.ids(ctx, "finish missed parties", `UPDATE watch_parties
		SET status = 'FINISHED', finished_at = now(), updated_at = now()
		WHERE status = 'SCHEDULED' AND end_time <= now()
		RETURNING id`)
}

// FinishDue moves ONGOING parties whose end_time has come, or whose host
// ended them, to FINISHED and returns their ids.
func (s *Parties) FinishDue(ctx context.Context) ([]uuid.UUID, error) {
	return s.ids(ctx, "finish parties", `UPDATE watch_parties
		SET status = 'FINISHED', finished_at = now(), updated_at = now()
		WHERE status = 'ONGOING' AND (end_time <= now() OR end_requested_at IS NOT NULL)
		RETURNING id`)
}

// OngoingIDs returns the ids of every ONGOING party.
func (s *Parties) OngoingIDs(ctx context.Context) ([]uuid.UUID, error) {
	return s.ids(ctx, "list ongoing parties", `SELECT id FROM watch_parties WHERE status = 'ONGOING'`)
}

// Over returns those of ids whose party is FINISHED or CANCELLED.
func (s *Parties) Over(ctx context.Context, ids []uuid.UUID) ([]uuid.UUID, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return s.ids(ctx, "find finished parties", `SELECT id FROM watch_parties
		WHERE id = ANY($1) AND status IN ('FINISHED', 'CANCELLED')`, ids)
}

// SetPeakViewers raises the party's peak_viewers to at least peak.
func (s *Parties) SetPeakViewers(ctx context.Context, id uuid.UUID, peak int) error {
	_, err := s.db.Exec(ctx, `UPDATE watch_parties SET peak_viewers = GREATEST(peak_viewers, $2), updated_at = now()
		WHERE id = $1`, id, peak)
	if err != nil {
		return fmt.Errorf("set peak viewers of party %s: %w", id, err)
	}
	return nil
}

func (s *Parties) ids(ctx context.Context, what, query string, args ...any) ([]uuid.UUID, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return ids, nil
}
