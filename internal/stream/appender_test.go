package stream_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/event"
	wprdb "github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// TestQueuedAppendsAreAnsweredWhenTheAppenderStops queues appends that no
// worker will take before the appender stops, and appends after it
// stopped: each gets an answer (stored, or ErrUnavailable) at once, so no
// caller waits forever for an appender that is gone.
func TestQueuedAppendsAreAnsweredWhenTheAppenderStops(t *testing.T) {
	rdb := newClient(t)
	a := stream.NewAppender(rdb, stream.AppenderConfig{Workers: 1, MaxBatch: 1})
	party := uuid.New()
	const queued = 20
	answers := make(chan error, queued+1)
	var callers sync.WaitGroup
	for i := range queued {
		callers.Go(func() {
			_, err := a.Append(context.Background(), chat(party, "u", fmt.Sprint(i)), true)
			answers <- err
		})
	}
	testenv.Eventually(t, 10*time.Second, "the appends to be waiting", func() bool { return stream.QueuedLen(a) >= 1 })

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the appender stops as it starts: nothing queued is taken
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	callers.Go(func() {
		_, err := a.Append(context.Background(), chat(party, "u", "late"), true)
		answers <- err
	})
	done := make(chan struct{})
	go func() { callers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%d of %d appends still unanswered 5s after the appender stopped", queued+1-len(answers), queued+1)
	}
	close(answers)
	refused := 0
	for err := range answers {
		switch {
		case errors.Is(err, stream.ErrUnavailable):
			refused++
		case err != nil:
			t.Fatalf("append answered %v, want success or ErrUnavailable", err)
		}
	}
	stored := rdb.XLen(context.Background(), stream.KeysFor(party).Stream).Val()
	if int64(queued+1-refused) != stored {
		t.Fatalf("%d appends answered as stored, stream holds %d", queued+1-refused, stored)
	}
	t.Logf("%d appends refused as unavailable, %d stored", refused, stored)
}

// TestAppendNotTakenBeforeItsDeadlineIsNotRun: an append whose caller
// gave up (its deadline passed) before a worker took it is answered
// without running, so an event its sender was told failed is not stored
// later behind its back; one taken in time is stored.
func TestAppendNotTakenBeforeItsDeadlineIsNotRun(t *testing.T) {
	rdb := newClient(t)
	a := stream.NewAppender(rdb, stream.AppenderConfig{Workers: 1, MaxBatch: 8})
	party := uuid.New()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := a.Append(ctx, chat(party, "u", "late"), true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("append with no worker running: %v, want the deadline passed", err)
	}
	if n := stream.QueuedLen(a); n != 1 {
		t.Fatalf("%d appends queued, want the one that gave up", n)
	}
	run, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- a.Run(run) }()
	defer func() { stop(); <-ran }()
	if _, err := a.Append(context.Background(), chat(party, "u", "in time"), true); err != nil {
		t.Fatalf("append with a worker running: %v", err)
	}
	entries := rdb.XRange(context.Background(), stream.KeysFor(party).Stream, "-", "+").Val()
	if len(entries) != 1 {
		t.Fatalf("stream holds %d entries, want only the append taken in time", len(entries))
	}
}

// TestAppenderStartedWhileRedisIsDown runs an appender whose Redis is not
// running yet: appends are refused as unavailable (not left waiting), the
// appender is not ready, and once Redis starts it turns ready and stores
// events. The refusal wraps both ErrUnavailable and the cause. After the
// script cache is flushed, appends still succeed.
func TestAppenderStartedWhileRedisIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Redis after the appender; skipped with -short")
	}
	r := testenv.ReserveRedis(t)
	opt, err := redis.ParseURL(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	a := startAppender(t, rdb, 0)
	party := uuid.New()
	ctx := context.Background()

	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = a.Append(actx, chat(party, "u", "down"), true)
	cancel()
	if !errors.Is(err, stream.ErrUnavailable) {
		t.Fatalf("append while Redis is down: %v, want ErrUnavailable", err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("append while Redis is down: %v, want it to wrap the refused connection too", err)
	}
	if err := a.Ready(ctx); err == nil {
		t.Fatal("appender ready while Redis is down")
	}

	r.Start(t)
	testenv.Eventually(t, 10*time.Second, "the appender to turn ready", func() bool { return a.Ready(ctx) == nil })
	if res, err := a.Append(ctx, chat(party, "u", "up"), true); err != nil || res.Status != stream.Stored {
		t.Fatalf("append after Redis started: %+v %v", res, err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if res, err := a.Append(ctx, chat(party, "u", "flushed"), true); err != nil || res.Status != stream.Stored {
		t.Fatalf("append after SCRIPT FLUSH: %+v %v", res, err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.Ready(ctx); err != nil {
		t.Fatalf("ready check after SCRIPT FLUSH: %v (it reloads the script)", err)
	}
}

// TestSubmittedAppendsAreStoredInOrder: one caller submits many events of
// a few parties without waiting for their answers, through an appender
// whose many small pipelines run at once; each party's stream holds its
// events in the order they were submitted, and every answer says so.
func TestSubmittedAppendsAreStoredInOrder(t *testing.T) {
	rdb := newClient(t)
	a := stream.NewAppender(rdb, stream.AppenderConfig{Workers: 4, MaxBatch: 3, PerCall: 2})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { _ = a.Run(ctx); close(ran) }()
	t.Cleanup(func() { cancel(); <-ran })

	parties := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	const perParty = 300
	var pending []*stream.Pending
	for i := range perParty * len(parties) {
		e := chat(parties[i%len(parties)], "u", fmt.Sprint(i))
		e.Text = fmt.Sprint(i)
		pending = append(pending, a.Submit(e, true))
	}
	last := map[uuid.UUID]string{}
	for i, p := range pending {
		res, err := p.Wait()
		if err != nil || res.Status != stream.Stored {
			t.Fatalf("event %d: %+v, %v; want it stored", i, res, err)
		}
		party := parties[i%len(parties)]
		if prev := last[party]; prev != "" && !stream.After(res.StreamID, prev) {
			t.Fatalf("event %d stored as %s, before its party's previous event (%s)", i, res.StreamID, prev)
		}
		last[party] = res.StreamID
	}
	for j, party := range parties {
		msgs, err := rdb.XRange(context.Background(), wprdb.KeysFor(party).Stream, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != perParty {
			t.Fatalf("party %d holds %d entries; want %d", j, len(msgs), perParty)
		}
		for k, m := range msgs {
			e, err := event.Decode([]byte(m.Values["e"].(string)), m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprint(j + k*len(parties)); e.Text != want {
				t.Fatalf("party %d's entry %d is event %s; want %s", j, k, e.Text, want)
			}
		}
	}
}
