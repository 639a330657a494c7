package stream_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// TestAppendWaitsForReplicas runs appends against a master with one
// replica: asking for one replica acks them; asking for two, which never
// confirm, stores them but answers ErrReplicas (an ErrUnavailable) and
// counts them, for stored events and duplicates alike; a refusal (closed
// party) is not turned into an error.
func TestAppendWaitsForReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a replica that never confirms; skipped with -short")
	}
	master := testenv.StartRedis(t)
	replica := testenv.StartRedis(t, "--replicaof", "127.0.0.1", strconv.Itoa(portOf(t, master.Addr())))
	rc := redis.NewClient(&redis.Options{Addr: replica.Addr()})
	defer rc.Close()
	ctx := context.Background()
	testenv.Eventually(t, 30*time.Second, "the replica in sync", func() bool {
		info, err := rc.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	mc := redis.NewClient(&redis.Options{Addr: master.Addr()})
	defer mc.Close()

	var short atomic.Int64
	start := func(replicas int) *stream.Appender {
		a := stream.NewAppender(mc, stream.AppenderConfig{MinReplicas: replicas, ReplicaTimeout: 100 * time.Millisecond,
			OnReplicaShortfall: func(n int) { short.Add(int64(n)) }})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = a.Run(runCtx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		return a
	}
	party := uuid.New()

	one := start(1)
	res, err := one.Append(ctx, chat(party, "u", "c1"), true)
	if err != nil || res.Status != stream.Stored {
		t.Fatalf("append confirmed by one replica: %+v, %v", res, err)
	}
	if n := rc.XLen(ctx, stream.KeysFor(party).Stream).Val(); n != 1 {
		t.Fatalf("the replica holds %d entries once the append was acked, want 1", n)
	}

	two := start(2)
	for _, id := range []string{"c2", "c1"} { // a new event, then a duplicate
		_, err = two.Append(ctx, chat(party, "u", id), true)
		if !errors.Is(err, stream.ErrReplicas) || !errors.Is(err, stream.ErrUnavailable) {
			t.Fatalf("append %s with one replica of two: got %v, want ErrReplicas wrapping ErrUnavailable", id, err)
		}
	}
	if n := short.Load(); n != 2 {
		t.Fatalf("shortfall counted %d events, want 2", n)
	}
	if n := mc.XLen(ctx, stream.KeysFor(party).Stream).Val(); n != 2 {
		t.Fatalf("master holds %d entries, want 2: an unconfirmed event is stored, only its ack is withheld", n)
	}
	mc.Set(ctx, stream.KeysFor(party).Ended, "1", 0)
	if res, err := two.Append(ctx, chat(party, "u", "c3"), true); err != nil || res.Status != stream.Closed {
		t.Fatalf("append to a closed party: %+v, %v; want Closed", res, err)
	}
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	p, err := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	if err != nil {
		t.Fatal(err)
	}
	return p
}
