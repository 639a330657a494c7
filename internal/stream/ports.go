package stream

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/rdb"
)

// The Redis side of each part of the package, as small interfaces that
// *rdb.Streams implements: package rdb issues every command, and this
// package keeps what the commands mean (batching, ordering, catch-up, the
// consumer's semantics).

// appendRedis runs the Appender's round trips.
type appendRedis interface {
	// Cluster says one script call may carry one party's events only.
	Cluster() bool
	RunAppends(ctx context.Context, round rdb.AppendRound) (rdb.WaitReply, error)
	LoadAppend(ctx context.Context) error
	AppendLoaded(ctx context.Context) (bool, error)
	// UnregisterIfGone unregisters a party whose stream does not exist.
	UnregisterIfGone(ctx context.Context, party uuid.UUID) (bool, error)
}

// readRedis reads a party's stream and state outside the group.
type readRedis interface {
	ReadAfter(ctx context.Context, keys Keys, after string, count int) (rdb.AfterRead, error)
	Snapshot(ctx context.Context, keys Keys) (rdb.SnapshotReply, error)
	IsEnded(ctx context.Context, keys Keys) (bool, error)
}

// feedRedis is what the Feed needs: reads, and pub/sub connections.
type feedRedis interface {
	readRedis
	Cluster() bool
	Subscribe(ctx context.Context, channels ...string) *rdb.Subscription
	ReloadSlots(ctx context.Context)
}

// groupRedis runs the Consumer's commands on group "flushers".
type groupRedis interface {
	Registered(ctx context.Context) ([]string, error)
	CreateGroup(ctx context.Context, party uuid.UUID) error
	ReadGroup(ctx context.Context, party uuid.UUID, consumer, from string, count int) ([]rdb.StreamEntry, error)
	Ack(ctx context.Context, party uuid.UUID, ids []string) error
	Group(ctx context.Context, party uuid.UUID) (rdb.GroupInfo, bool, error)
	OldestPending(ctx context.Context, party uuid.UUID) (string, error)
	TrimBefore(ctx context.Context, party uuid.UUID, minID string) error
	Len(ctx context.Context, party uuid.UUID) (int64, error)
	ClaimIdle(ctx context.Context, party uuid.UUID, consumer string, minIdle time.Duration, start string,
		count int) (int, string, error)
	Consumers(ctx context.Context, party uuid.UUID) ([]rdb.GroupConsumer, error)
	DeleteIdleConsumer(ctx context.Context, party uuid.UUID, consumer string) (bool, error)
	CountFailures(ctx context.Context, party uuid.UUID, ids []string) ([]int, error)
	ForgetFailures(ctx context.Context, party uuid.UUID, ids []string) error
}
