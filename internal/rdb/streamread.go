package rdb

import (
	"context"
	"fmt"
	"time"
)

// StreamInfo is what XINFO STREAM says of a party's stream, as far as
// telling trimmed entries apart goes.
type StreamInfo struct {
	Length          int64
	EntriesAdded    int64  // every entry ever added, trimmed ones included
	FirstID         string // "" when every entry was trimmed
	LastGeneratedID string
}

// AfterRead is one read of the entries after a cursor (ReadAfter).
type AfterRead struct {
	Info    StreamInfo
	Exists  bool // the stream exists: Info describes it
	Entries []StreamEntry
	Likes   int64 // the party's like total at the read
}

// ReadAfter reads in one pipelined round trip the stream's info, at most
// count entries after the id after, in stream order, and the party's like
// total. A stream that does not exist yields no entries and Exists false.
func (s *Streams) ReadAfter(ctx context.Context, keys PartyKeys, after string, count int) (AfterRead, error) {
	pipe := s.c.Pipeline()
	info := pipe.XInfoStream(ctx, keys.Stream)
	rng := pipe.XRangeN(ctx, keys.Stream, "("+after, "+", int64(count))
	likes := pipe.SCard(ctx, keys.Likers)
	_, _ = pipe.Exec(ctx)
	if err := info.Err(); err != nil && !IsNoSuchKey(err) {
		return AfterRead{}, fmt.Errorf("inspect stream %s: %w", keys.Stream, err)
	}
	if err := rng.Err(); err != nil {
		return AfterRead{}, fmt.Errorf("read stream %s: %w", keys.Stream, err)
	}
	if err := likes.Err(); err != nil {
		return AfterRead{}, fmt.Errorf("read likes of %s: %w", keys.Stream, err)
	}
	r := AfterRead{Likes: likes.Val(), Entries: entriesOf(rng.Val())}
	if info.Err() == nil {
		v := info.Val()
		r.Exists = true
		r.Info = StreamInfo{Length: v.Length, EntriesAdded: v.EntriesAdded, FirstID: v.FirstEntry.ID,
			LastGeneratedID: v.LastGeneratedID}
	}
	return r, nil
}

// Info returns the info of party's stream; false when it does not exist.
func (s *Streams) Info(ctx context.Context, keys PartyKeys) (StreamInfo, bool, error) {
	v, err := s.c.XInfoStream(ctx, keys.Stream).Result()
	if err != nil {
		if IsNoSuchKey(err) {
			return StreamInfo{}, false, nil
		}
		return StreamInfo{}, false, err
	}
	return StreamInfo{Length: v.Length, EntriesAdded: v.EntriesAdded, FirstID: v.FirstEntry.ID,
		LastGeneratedID: v.LastGeneratedID}, true, nil
}

// ReadBefore reads at most count entries of party's stream up to end
// (XREVRANGE end -), newest first.
func (s *Streams) ReadBefore(ctx context.Context, keys PartyKeys, end string, count int) ([]StreamEntry, error) {
	msgs, err := s.c.XRevRangeN(ctx, keys.Stream, end, "-", int64(count)).Result()
	if err != nil {
		return nil, err
	}
	return entriesOf(msgs), nil
}

// Likes returns the party's like total.
func (s *Streams) Likes(ctx context.Context, keys PartyKeys) (int64, error) {
	return s.c.SCard(ctx, keys.Likers).Result()
}

// Snapshot reads the stream's last id with the playback hash in one step
// (lua/snapshot.lua).
func (s *Streams) Snapshot(ctx context.Context, keys PartyKeys) (SnapshotReply, error) {
	return ReadSnapshot(ctx, s.c, keys)
}

// CloseParty marks the party ended for ttl and announces it
// (lua/close.lua).
func (s *Streams) CloseParty(ctx context.Context, keys PartyKeys, ttl time.Duration) error {
	return CloseParty(ctx, s.c, keys, ttl)
}

// IsEnded reports whether the party's ended marker is set.
func (s *Streams) IsEnded(ctx context.Context, keys PartyKeys) (bool, error) {
	n, err := s.c.Exists(ctx, keys.Ended).Result()
	return n == 1, err
}

// Delete deletes keys.
func (s *Streams) Delete(ctx context.Context, keys ...string) error {
	return s.c.Del(ctx, keys...).Err()
}
