package rdb

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// FlushGroup is the consumer group every flusher reads party streams
// through (SPEC §6).
const FlushGroup = "flushers"

// GroupInfo is where FlushGroup stands on a party's stream (XINFO GROUPS).
type GroupInfo struct {
	LastDeliveredID string
	Pending         int64 // entries delivered and not acknowledged
	Lag             int64 // entries not yet delivered; negative when Redis cannot tell
}

// GroupConsumer is one consumer of FlushGroup (XINFO CONSUMERS).
type GroupConsumer struct {
	Name    string
	Pending int64
	Idle    time.Duration
}

// CreateGroup creates FlushGroup on party's stream, reading from the first
// entry. Its error is Redis's: IsBusyGroup when the group exists,
// IsNoStream when the stream does not.
func (s *Streams) CreateGroup(ctx context.Context, party uuid.UUID) error {
	return s.c.XGroupCreate(ctx, KeysFor(party).Stream, FlushGroup, "0").Err()
}

// ReadGroup reads up to count entries of party's stream as consumer of
// FlushGroup, from id from (">" for entries never delivered), without
// blocking. No entry is no error.
func (s *Streams) ReadGroup(ctx context.Context, party uuid.UUID, consumer, from string, count int) ([]StreamEntry, error) {
	res, err := s.c.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group:    FlushGroup,
		Consumer: consumer,
		Streams:  []string{KeysFor(party).Stream, from},
		Count:    int64(count),
		Block:    -1, // never BLOCK: the zero value would mean "forever"
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []StreamEntry
	for _, st := range res {
		out = append(out, entriesOf(st.Messages)...)
	}
	return out, nil
}

// Ack acknowledges ids of party's stream in FlushGroup.
func (s *Streams) Ack(ctx context.Context, party uuid.UUID, ids []string) error {
	return s.c.XAck(ctx, KeysFor(party).Stream, FlushGroup, ids...).Err()
}

// Group returns where FlushGroup stands on party's stream; false when the
// stream has no such group. The error is Redis's (IsNoSuchKey: no stream).
func (s *Streams) Group(ctx context.Context, party uuid.UUID) (GroupInfo, bool, error) {
	groups, err := s.c.XInfoGroups(ctx, KeysFor(party).Stream).Result()
	if err != nil {
		return GroupInfo{}, false, err
	}
	g, ok := findFlushGroup(groups)
	return g, ok, nil
}

func findFlushGroup(groups []redis.XInfoGroup) (GroupInfo, bool) {
	for _, g := range groups {
		if g.Name == FlushGroup {
			return GroupInfo{LastDeliveredID: g.LastDeliveredID, Pending: g.Pending, Lag: g.Lag}, true
		}
	}
	return GroupInfo{}, false
}

// OldestPending returns the id of the oldest entry of party's stream
// pending in FlushGroup, "" when none is.
func (s *Streams) OldestPending(ctx context.Context, party uuid.UUID) (string, error) {
	p, err := s.c.XPending(ctx, KeysFor(party).Stream, FlushGroup).Result()
	if err != nil {
		return "", err
	}
	return p.Lower, nil
}

// TrimBefore trims party's stream of entries before minID (XTRIM MINID ~).
func (s *Streams) TrimBefore(ctx context.Context, party uuid.UUID, minID string) error {
	return s.c.XTrimMinIDApprox(ctx, KeysFor(party).Stream, minID, 0).Err()
}

// Len returns how many entries party's stream holds.
func (s *Streams) Len(ctx context.Context, party uuid.UUID) (int64, error) {
	return s.c.XLen(ctx, KeysFor(party).Stream).Result()
}

// ClaimIdle moves to consumer up to count entries of party's stream, from
// id start on, that other consumers of FlushGroup have held for at least
// minIdle (XAUTOCLAIM JUSTID). It returns how many it moved and the id to
// continue from, "0-0" or "" once the scan is done.
func (s *Streams) ClaimIdle(ctx context.Context, party uuid.UUID, consumer string, minIdle time.Duration,
	start string, count int) (int, string, error) {
	ids, next, err := s.c.XAutoClaimJustID(ctx, &redis.XAutoClaimArgs{
		Stream: KeysFor(party).Stream, Group: FlushGroup, Consumer: consumer, MinIdle: minIdle,
		Start: start, Count: int64(count),
	}).Result()
	return len(ids), next, err
}

// Consumers lists the consumers of FlushGroup on party's stream.
func (s *Streams) Consumers(ctx context.Context, party uuid.UUID) ([]GroupConsumer, error) {
	cs, err := s.c.XInfoConsumers(ctx, KeysFor(party).Stream, FlushGroup).Result()
	if err != nil {
		return nil, err
	}
	out := make([]GroupConsumer, len(cs))
	for i, c := range cs {
		out[i] = GroupConsumer{Name: c.Name, Pending: c.Pending, Idle: c.Idle}
	}
	return out, nil
}

// DeleteIdleConsumer deletes consumer from FlushGroup on party's stream
// only if it holds nothing pending, in one step (lua/del_idle_consumer.lua),
// and reports whether it did.
func (s *Streams) DeleteIdleConsumer(ctx context.Context, party uuid.UUID, consumer string) (bool, error) {
	return DeleteIdleConsumer(ctx, s.c, KeysFor(party).Stream, FlushGroup, consumer)
}

// CountFailures adds one to the failure count of each of ids in party's
// failures hash, in one round trip, and returns each one's count.
func (s *Streams) CountFailures(ctx context.Context, party uuid.UUID, ids []string) ([]int, error) {
	key := KeysFor(party).Failures
	cmds := make([]*redis.IntCmd, len(ids))
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HIncrBy(ctx, key, id, 1)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]int, len(ids))
	for i, cmd := range cmds {
		out[i] = int(cmd.Val())
	}
	return out, nil
}

// ForgetFailures drops the failure counts of ids from party's failures hash.
func (s *Streams) ForgetFailures(ctx context.Context, party uuid.UUID, ids []string) error {
	return s.c.HDel(ctx, KeysFor(party).Failures, ids...).Err()
}
