package stream

import (
	"context"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
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

// snapshotScript reads the stream's last id and the playback state in one
// step, so a play/pause/seek can never fall between the two reads.
// KEYS[1] -> wp:{<party>}:events
// KEYS[2] -> wp:{<party>}:playback
// Returns {last_id, state, position_ms, updated_at}.
var snapshotScript = redis.NewScript(`
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local id = '0-0'
if #last == 1 then id = last[1][1] end
local pb = redis.call('HMGET', KEYS[2], 'state', 'position_ms', 'updated_at')
return {id, pb[1] or '', pb[2] or '0', pb[3] or ''}
`)

// SnapshotOf reads party's snapshot.
func SnapshotOf(ctx context.Context, rdb redis.UniversalClient, party uuid.UUID) (Snapshot, error) {
	k := KeysFor(party)
	vals, err := snapshotScript.Run(ctx, rdb, []string{k.Stream, k.Playback}).StringSlice()
	if err != nil || len(vals) != 4 {
		return Snapshot{}, fmt.Errorf("read snapshot of party %s: %v %w", party, vals, err)
	}
	s := Snapshot{LastID: vals[0], Playback: Playback{State: vals[1], UpdatedAt: vals[3]}}
	if s.Playback.State == "" {
		s.Playback.State = "paused"
	}
	s.Playback.PositionMS, _ = strconv.ParseInt(vals[2], 10, 64)
	return s, nil
}
