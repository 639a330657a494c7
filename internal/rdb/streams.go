package rdb

import (
	"context"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Streams runs the commands of party streams for package stream and the
// flusher: appends, reads, the flushers' consumer group, the live channel
// and a party's end. It is safe for concurrent use.
type Streams struct {
	c       redis.UniversalClient
	cluster bool
}

// NewStreams returns the stream commands over c.
func NewStreams(c Client) *Streams {
	_, cluster := c.(*redis.ClusterClient)
	return &Streams{c: c, cluster: cluster}
}

// Cluster reports whether the client is a Redis Cluster client: one
// command (one append script call, one pub/sub connection) then serves one
// party's slot only.
func (s *Streams) Cluster() bool { return s.cluster }

// StreamEntry is one entry of a party stream as stored: its id and fields.
type StreamEntry struct {
	ID     string
	Values map[string]any
}

func entriesOf(msgs []redis.XMessage) []StreamEntry {
	out := make([]StreamEntry, len(msgs))
	for i, m := range msgs {
		out[i] = StreamEntry{ID: m.ID, Values: m.Values}
	}
	return out
}

// Registered returns the members of RegistryKey: the parties whose
// streams may hold unflushed events, as stored.
func (s *Streams) Registered(ctx context.Context) ([]string, error) {
	return s.c.SMembers(ctx, RegistryKey).Result()
}

// Unregister removes party from RegistryKey.
func (s *Streams) Unregister(ctx context.Context, party uuid.UUID) error {
	return s.c.SRem(ctx, RegistryKey, party.String()).Err()
}

// UnregisterIfGone removes party from RegistryKey when its stream does
// not exist (a closed party already cleaned up), and reports whether it did.
func (s *Streams) UnregisterIfGone(ctx context.Context, party uuid.UUID) (bool, error) {
	n, err := s.c.Exists(ctx, KeysFor(party).Stream).Result()
	if err != nil || n != 0 {
		return false, err
	}
	return true, s.Unregister(ctx, party)
}
