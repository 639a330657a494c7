package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/watchparty/watchparty/internal/event"
)

// chatPosition is where e stands in its party's stream. An event without
// a stream id (written by code that never appended it) is placed at the
// millisecond it was accepted.
func chatPosition(e event.Event) event.Position {
	if p, err := event.ParsePosition(e.StreamID); err == nil {
		return p
	}
	return event.Position{MS: e.CreatedAt.UnixMilli()}
}

// Chats reads stored chat messages. It is safe for concurrent use.
type Chats struct{ db *pgxpool.Pool }

// NewChats returns a Chats over db.
func NewChats(db *pgxpool.Pool) *Chats { return &Chats{db: db} }

// Before returns at most n of party's stored chats whose stream id comes
// before before, newest first, each with its StreamID set, leaving out
// deleted chats (deleted_at set) and those in exclude. Use
// event.MaxPosition for the newest chats.
func (c *Chats) Before(ctx context.Context, party uuid.UUID, before event.Position, n int, exclude []uuid.UUID) ([]event.Event, error) {
	if exclude == nil {
		exclude = []uuid.UUID{}
	}
	rows, err := c.db.Query(ctx, `
		SELECT event_id, user_id, body, created_at, stream_ms, stream_seq
		FROM watch_party_chats
		WHERE party_id = $1 AND (stream_ms, stream_seq) < ($2, $3)
			AND deleted_at IS NULL AND event_id <> ALL($5::uuid[])
		ORDER BY stream_ms DESC, stream_seq DESC
		LIMIT $4`, party, before.MS, before.Seq, n, exclude)
	if err != nil {
		return nil, fmt.Errorf("read chats of party %s: %w", party, err)
	}
	defer rows.Close()
	var out []event.Event
	for rows.Next() {
		e := event.Event{Type: event.Chat, PartyID: party}
		var pos event.Position
		if err := rows.Scan(&e.ID, &e.UserID, &e.Text, &e.CreatedAt, &pos.MS, &pos.Seq); err != nil {
			return nil, fmt.Errorf("read chats of party %s: %w", party, err)
		}
		e.StreamID = pos.String()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read chats of party %s: %w", party, err)
	}
	return out, nil
}
