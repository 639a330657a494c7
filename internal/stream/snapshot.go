package stream

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/rdb"
)

// Playback is a party's playback state as the append script keeps it:
// state, position and time of the last play/pause/seek (UpdatedAt is ""
// before the first).
type Playback struct {
	State      string
	PositionMS int64
	UpdatedAt  string
}

// Snapshot is where a party's stream stands at one instant: the id of its
// last entry and the playback state that entry leaves.
type Snapshot struct {
	LastID   string // "0-0" for an empty stream
	Playback Playback
}

// SnapshotOf reads party's snapshot in one step, so a play/pause/seek can
// never fall between reading the last id and the playback state.
func SnapshotOf(ctx context.Context, c rdb.Client, party uuid.UUID) (Snapshot, error) {
	return snapshotOf(ctx, rdb.NewStreams(c), party)
}

func snapshotOf(ctx context.Context, r readRedis, party uuid.UUID) (Snapshot, error) {
	snap, err := r.Snapshot(ctx, KeysFor(party))
	if err != nil {
		return Snapshot{}, fmt.Errorf("read snapshot of party %s: %w", party, err)
	}
	s := Snapshot{LastID: snap.LastID, Playback: Playback{State: snap.State, PositionMS: snap.PositionMS, UpdatedAt: snap.UpdatedAt}}
	if s.Playback.State == "" {
		s.Playback.State = "paused"
	}
	return s, nil
}
