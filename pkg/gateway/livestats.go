package gateway

import (
	"context"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/pkg/store"
)

// liveStats returns where the REST API reads a party's live numbers.
//
// For now it is PostgreSQL: likes as flushed so far and no viewers. It is
// meant to be replaced by Redis-backed live values (viewers across all pods,
// likes including those not yet flushed).
func (g *Gateway) liveStats() LiveStats { return storeLiveStats{parties: g.parties.parties} }

// storeLiveStats reads live numbers from PostgreSQL only.
type storeLiveStats struct {
	parties *store.Parties
}

func (storeLiveStats) Viewers(context.Context, uuid.UUID) (int, error) { return 0, nil }

func (s storeLiveStats) Likes(ctx context.Context, party uuid.UUID) (int64, error) {
	return s.parties.Likes(ctx, party)
}
