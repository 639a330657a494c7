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

// Sentinel errors of party changes.
var (
	// ErrPartyNotFound says no party has the requested id.
	ErrPartyNotFound = errors.New("party not found")
	// ErrNotHost says the caller is not the party's host.
	ErrNotHost = errors.New("not the party's host")
	// ErrWrongStatus says the party's status does not allow the change.
	ErrWrongStatus = errors.New("party status does not allow this")
	// ErrTooManyParties says the host already has as many SCHEDULED and
	// ONGOING parties as allowed.
	ErrTooManyParties = errors.New("host has too many scheduled or ongoing parties")
)

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
	// EndRequestedAt is when the host asked to end the ONGOING party; the
	// scheduler then finishes it as if its end_time had come.
	EndRequestedAt *time.Time
}

// Parties reads and changes watch_parties.
type Parties struct {
	db *pgxpool.Pool
}

// NewParties returns a Parties over db.
func NewParties(db *pgxpool.Pool) *Parties { return &Parties{db: db} }

const partyColumns = `id, title, video_url, host_user_id, start_time, end_time, status, control,
	started_at, finished_at, peak_viewers, created_at, updated_at, end_requested_at`

func scanParty(row pgx.Row) (Party, error) {
	var p Party
	err := row.Scan(&p.ID, &p.Title, &p.VideoURL, &p.HostUserID, &p.StartTime, &p.EndTime, &p.Status,
		&p.Control, &p.StartedAt, &p.FinishedAt, &p.PeakViewers, &p.CreatedAt, &p.UpdatedAt, &p.EndRequestedAt)
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

// Create stores a new party and returns the stored row. A zero ID gets a new
// random one, an empty Status becomes SCHEDULED and an empty Control "host".
// The database refuses an end_time not after start_time.
func (s *Parties) Create(ctx context.Context, p Party) (Party, error) {
	return create(ctx, s.db, p)
}

func create(ctx context.Context, q rowQuerier, p Party) (Party, error) {
	if p.ID == uuid.Nil {
		p.ID = uuid.New()
	}
	if p.Status == "" {
		p.Status = Scheduled
	}
	if p.Control == "" {
		p.Control = ControlHost
	}
	row := q.QueryRow(ctx, `INSERT INTO watch_parties
		(id, title, video_url, host_user_id, start_time, end_time, status, control)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+partyColumns,
		p.ID, p.Title, p.VideoURL, p.HostUserID, p.StartTime, p.EndTime, p.Status, p.Control)
	stored, err := scanParty(row)
	if err != nil {
		return Party{}, fmt.Errorf("create party %s: %w", p.ID, err)
	}
	return stored, nil
}

// CreateForHost is Create for p.HostUserID when that host has fewer than
// limit SCHEDULED or ONGOING parties (limit <= 0: no limit); otherwise it
// returns ErrTooManyParties and stores nothing. Concurrent creates by one
// host are serialised by a transaction-scoped advisory lock on the host, so
// the limit holds under races.
func (s *Parties) CreateForHost(ctx context.Context, p Party, limit int) (Party, error) {
	if limit <= 0 {
		return s.Create(ctx, p)
	}
	var stored Party
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('watchparty host ' || $1, 0))`,
			p.HostUserID); err != nil {
			return fmt.Errorf("lock host %q: %w", p.HostUserID, err)
		}
		n, err := activeForHost(ctx, tx, p.HostUserID)
		if err != nil {
			return err
		}
		if n >= limit {
			return ErrTooManyParties
		}
		stored, err = create(ctx, tx, p)
		return err
	})
	if err != nil {
		return Party{}, err
	}
	return stored, nil
}

// rowQuerier is a pool or a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// activeForHost counts host's SCHEDULED and ONGOING parties.
func activeForHost(ctx context.Context, q rowQuerier, host string) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM watch_parties
		WHERE host_user_id = $1 AND status IN ('SCHEDULED', 'ONGOING')`, host).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count active parties of host %q: %w", host, err)
	}
	return n, nil
}

// List returns at most limit parties (limit must be positive), newest first
// by created_at; status "" means every status.
func (s *Parties) List(ctx context.Context, status string, limit int) ([]Party, error) {
	rows, err := s.db.Query(ctx, `SELECT `+partyColumns+` FROM watch_parties
		WHERE $1::text = '' OR status = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, status, limit)
	if err != nil {
		return nil, fmt.Errorf("list parties: %w", err)
	}
	parties, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Party, error) { return scanParty(r) })
	if err != nil {
		return nil, fmt.Errorf("list parties: %w", err)
	}
	return parties, nil
}

// RequestEnd marks an ONGOING party as ended by its host and returns the
// updated row; the scheduler finishes it on its next pass, the same way as
// a party whose end_time has come. Asking again keeps the first request
// time. Errors: ErrPartyNotFound; ErrNotHost when host is not the party's
// host; ErrWrongStatus when it is not ONGOING. With the last two the
// current row comes back too.
func (s *Parties) RequestEnd(ctx context.Context, id uuid.UUID, host string) (Party, error) {
	return s.change(ctx, id, host, `UPDATE watch_parties
		SET end_requested_at = COALESCE(end_requested_at, now()), updated_at = now()
		WHERE id = $1 AND host_user_id = $2 AND status = 'ONGOING' RETURNING `+partyColumns)
}

// Cancel moves a SCHEDULED party to CANCELLED, so it never starts, and
// returns the updated row. It is one conditional update: a party the
// scheduler starts at the same moment is either cancelled or left ONGOING,
// never both. Errors as for RequestEnd, with ErrWrongStatus when the party
// is not SCHEDULED.
func (s *Parties) Cancel(ctx context.Context, id uuid.UUID, host string) (Party, error) {
	return s.change(ctx, id, host, `UPDATE watch_parties
		SET status = 'CANCELLED', updated_at = now()
		WHERE id = $1 AND host_user_id = $2 AND status = 'SCHEDULED' RETURNING `+partyColumns)
}

// change runs a conditional update of party id by host that returns the
// row, and explains a refusal by reading the party again.
func (s *Parties) change(ctx context.Context, id uuid.UUID, host, update string) (Party, error) {
	p, err := scanParty(s.db.QueryRow(ctx, update, id, host))
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Party{}, fmt.Errorf("update party %s: %w", id, err)
	}
	cur, err := s.Get(ctx, id)
	switch {
	case err != nil:
		return Party{}, err
	case cur.HostUserID != host:
		return cur, ErrNotHost
	default:
		return cur, ErrWrongStatus
	}
}

// Likes returns how many likes of party are stored (one per user).
func (s *Parties) Likes(ctx context.Context, party uuid.UUID) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM watch_party_likes WHERE party_id = $1`, party).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count likes of party %s: %w", party, err)
	}
	return n, nil
}
