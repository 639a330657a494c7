package gateway

import (
	"context"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/presence"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
)

// liveStats returns where the REST API reads a party's live numbers.
func (g *Gateway) liveStats() LiveStats {
	return redisLiveStats{rdb: g.rdb, presence: g.presence, parties: g.store}
}

// redisLiveStats counts viewers across pods from presence, and likes as
// the larger of the live set in Redis (complete while the party runs) and
// the flushed rows (complete once its keys are removed).
type redisLiveStats struct {
	rdb      rdb.Client
	presence *presence.Presence
	parties  *store.Parties
}

func (s redisLiveStats) Viewers(ctx context.Context, party uuid.UUID) (int, error) {
	return s.presence.Total(ctx, party)
}

func (s redisLiveStats) Likes(ctx context.Context, party uuid.UUID) (int64, error) {
	live, err := stream.Likes(ctx, s.rdb, stream.KeysFor(party))
	if err != nil {
		return 0, err
	}
	stored, err := s.parties.Likes(ctx, party)
	if err != nil {
		return 0, err
	}
	return max(live, stored), nil
}
