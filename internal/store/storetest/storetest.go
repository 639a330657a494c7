// Package storetest holds what tests of several packages need from the
// store: a party row to write events for.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/watchparty/watchparty/internal/store"
)

// NewParty inserts an ONGOING party hosted by "host", from now for an hour,
// and returns its id.
func NewParty(t testing.TB, db *pgxpool.Pool) uuid.UUID {
	t.Helper()
	id := uuid.New()
	now := time.Now()
	err := store.NewParties(db).Insert(context.Background(), store.Party{ID: id, Title: "t", VideoURL: "v",
		HostUserID: "host", StartTime: now, EndTime: now.Add(time.Hour), Status: store.Ongoing, Control: store.ControlHost})
	if err != nil {
		t.Fatal(err)
	}
	return id
}
