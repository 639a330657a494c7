package bench

import (
	"context"
	"errors"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/stream"
)

// loopResult is n events stored by one way of writing to Redis.
type loopResult struct {
	name string
	n    int
	use  usage
}

func (r loopResult) rate() float64 { return float64(r.n) / r.use.Wall.Seconds() }

func sampleChatPayload(b *testing.B) []byte {
	b.Helper()
	p := uuid.New()
	payload, err := event.Encode(event.Event{Type: event.Chat, ID: event.NewID(p, "u1", "c1"), PartyID: p,
		UserID: "u1", CreatedAt: event.Millis(time.Now()), Text: chatText48})
	if err != nil {
		b.Fatal(err)
	}
	return payload
}

func benchParties(n int) []uuid.UUID {
	ps := make([]uuid.UUID, n)
	for i := range ps {
		ps[i] = uuid.New()
	}
	return ps
}

// timeLoop runs body on each of workers goroutines until the baseline's
// duration has passed; body returns how many events it stored.
func timeLoop(ctx context.Context, b *testing.B, env *env, name string, workers int, body func(ctx context.Context, worker int) (int, error)) loopResult {
	b.Helper()
	m := newMeter(ctx, env.rdb, nil)
	deadline := time.Now().Add(*baselineFor)
	var total atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var failure error
	m.Start(ctx)
	pprof.Do(ctx, pprof.Labels("phase", name), func(ctx context.Context) {
		for w := range workers {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					n, err := body(ctx, w)
					if err != nil {
						once.Do(func() { failure = err })
						return
					}
					total.Add(int64(n))
				}
			})
		}
		wg.Wait()
	})
	use := m.Stop(ctx)
	if failure != nil {
		b.Fatalf("%s: %v", name, failure)
	}
	return loopResult{name: name, n: int(total.Load()), use: use}
}

// xaddLoop is one XADD per round trip (go-redis XAdd, no pipeline) from
// workers goroutines, over 1,000 party streams.
func xaddLoop(ctx context.Context, b *testing.B, env *env, name string, workers int, payload []byte) loopResult {
	b.Helper()
	rc := openRedis(b, env.redisURL)
	parties := benchParties(1000)
	r := timeLoop(ctx, b, env, name, workers, func(ctx context.Context, w int) (int, error) {
		key := stream.KeysFor(parties[w%len(parties)]).Stream
		return 1, rc.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{"e", payload}}).Err()
	})
	r.name = "one XADD per round trip, " + strconv.Itoa(workers) + " goroutine(s)"
	return r
}

// appenderLoop is the gateway's Redis path without WebSockets: the append
// script through stream.Appender's pipelines, from workers goroutines.
func appenderLoop(ctx context.Context, b *testing.B, env *env, workers int) loopResult {
	b.Helper()
	a := runAppender(ctx, b, env)
	parties := benchParties(workers)
	seqs := make([]int, workers)
	now := event.Millis(time.Now())
	r := timeLoop(ctx, b, env, "appender", workers, func(ctx context.Context, w int) (int, error) {
		seqs[w]++
		p, user := parties[w], "u"+strconv.Itoa(w)
		e := event.Event{Type: event.Chat, ID: event.NewID(p, user, "c"+strconv.Itoa(seqs[w])), PartyID: p,
			UserID: user, CreatedAt: now, Text: chatText48}
		_, err := a.Append(ctx, e, true)
		return 1, err
	})
	r.name = "stream.Appender (Lua script, pipelined), " + strconv.Itoa(workers) + " goroutines"
	return r
}

// pipelineLoop stores events with pipelines of 512 from 4 goroutines, the
// appender's shape: plain XADDs, or (scriptCmds) the commands the append
// script runs for a chat with a client id, sent without Lua.
func pipelineLoop(ctx context.Context, b *testing.B, env *env, name string, payload []byte, scriptCmds bool) loopResult {
	b.Helper()
	rc := openRedis(b, env.redisURL)
	parties := benchParties(1000)
	const batch = 512
	var next atomic.Int64
	r := timeLoop(ctx, b, env, name, 4, func(ctx context.Context, _ int) (int, error) {
		pipe := rc.Pipeline()
		for range batch {
			i := next.Add(1)
			k := stream.KeysFor(parties[i%int64(len(parties))])
			if scriptCmds {
				id := strconv.FormatInt(i, 10)
				pipe.Exists(ctx, k.Stream+":ended") // the closed-party check
				pipe.HGet(ctx, k.IDs, id)
				pipe.XLen(ctx, k.Stream)
			}
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: k.Stream, Values: []any{"e", payload}})
			if scriptCmds {
				pipe.HSet(ctx, k.IDs, strconv.FormatInt(i, 10), "1-1")
				pipe.SPublish(ctx, k.Channel, payload)
			}
		}
		_, err := pipe.Exec(ctx)
		if errors.Is(err, redis.Nil) {
			err = nil // HGET of an unknown id
		}
		return batch, err
	})
	r.name = "pipelined XADD (512/pipeline, 4 goroutines), no Lua"
	if scriptCmds {
		r.name = "pipelined EXISTS+HGET+XLEN+XADD+HSET+SPUBLISH, no Lua"
	}
	return r
}

// runAppender runs a stream.Appender on env's Redis, without a backlog
// limit, until b ends.
func runAppender(ctx context.Context, b *testing.B, env *env) *stream.Appender {
	b.Helper()
	a := stream.NewAppender(openRedis(b, env.redisURL), stream.AppenderConfig{MaxBuffered: 1 << 40})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go pprof.Do(runCtx, pprof.Labels("phase", "appender"), func(ctx context.Context) { done <- a.Run(ctx) })
	b.Cleanup(func() { cancel(); <-done })
	return a
}
