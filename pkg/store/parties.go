package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Party statuses.
const (
	Scheduled = "SCHEDULED"
	Ongoing   = "ONGOING"
	Finished  = "FINISHED"
	Cancelled = "CANCELLED"
)

// Playback control modes.
const (
	ControlHost     = "host"
	ControlEveryone = "everyone"
)

// ErrPartyNotFound says no party has the requested id.
var ErrPartyNotFound = errors.New("party not found")

// Party is a row of watch_parties.
type Party struct {
	ID          uuid.UUID
	Title       string
	VideoURL    string
	HostUserID  string
	StartTime   time.Time
	EndTime     time.Time
	Status      string
	Control     string
	StartedAt   *time.Time
	FinishedAt  *time.Time
	PeakViewers int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Parties reads and changes watch_parties.
type Parties struct {
	db *pgxpool.Pool
}

// NewParties returns a Parties over db.
func NewParties(db *pgxpool.Pool) *Parties { return &Parties{db: db} }

const partyColumns = `id, title, video_url, host_user_id, start_time, end_time, status, control,
	started_at, finished_at, peak_viewers, created_at, updated_at`

func scanParty(row pgx.Row) (Party, error) {
	var p Party
	err := row.Scan(&p.ID, &p.Title, &p.VideoURL, &p.HostUserID, &p.StartTime, &p.EndTime, &p.Status,
		&p.Control, &p.StartedAt, &p.FinishedAt, &p.PeakViewers, &p.CreatedAt, &p.UpdatedAt)
	return p, err
}

// Get returns the party with id, or ErrPartyNotFound.
func (s *Parties) Get(ctx context.Context, id uuid.UUID) (Party, error) {
	p, err := scanParty(s.db.QueryRow(ctx, `SELECT `+partyColumns+` FROM watch_parties WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Party{}, ErrPartyNotFound
	}
	if err != nil {
		return Party{}, fmt.Errorf("get party %s: %w", id, err)
	}
	return p, nil
}

// Insert stores a new party as given.
func (s *Parties) Insert(ctx context.Context, p Party) error {
	_, err := s.db.Exec(ctx, `INSERT INTO watch_parties
		(id, title, video_url, host_user_id, start_time, end_time, status, control)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		p.ID, p.Title, p.VideoURL, p.HostUserID, p.StartTime, p.EndTime, p.Status, p.Control)
	if err != nil {
		return fmt.Errorf("insert party %s: %w", p.ID, err)
	}
	return nil
}
