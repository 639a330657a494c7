package bench

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/stream"
)

// BenchmarkCapacity measures the figures docs/capacity.md sizes a
// deployment from, that the other benchmarks do not give:
//
//   - Redis memory per buffered event: used_memory before and after
//     appending chats through stream.Appender (the gateway's path: the
//     append script, its client-id index included) into 10 party streams;
//   - one party on one stream: the most chats/s one party's stream takes
//     through the gateway's Redis path (stream.Appender, 64 goroutines),
//     and the Redis CPU per event, which bounds what the party's shard can
//     take. (Through WebSockets, every publisher of one party also
//     receives every chat, so fan-out, measured by BenchmarkFanout, would
//     be the limit instead.)
//
// Gateway memory and CPU per viewer and per delivery come from
// BenchmarkFanout.
func BenchmarkCapacity(b *testing.B) {
	b.StopTimer()
	ctx := context.Background()
	say(b, "machine: %s", machine())
	perEvent := redisBytesPerEvent(ctx, b)
	party, redisUS := onePartyRate(ctx, b)
	b.ReportMetric(perEvent, "redis_bytes/event")
	b.ReportMetric(party.rate(), "party_events/s")
	b.ReportMetric(redisUS, "redis_us/event")
	result(b, "RESULT capacity: Redis %.0f bytes per buffered chat; one party's stream: %.0f chats/s, "+
		"Redis %.1fµs CPU per chat (one core: about %.0f chats/s)", perEvent, party.rate(), redisUS, 1e6/redisUS)
}

// redisBytesPerEvent appends -capacity.events chats of 48 characters with
// client ids into 10 parties and returns Redis's used_memory growth per
// chat.
func redisBytesPerEvent(ctx context.Context, b *testing.B) float64 {
	b.Helper()
	env := newEnv(b)
	a := runAppender(ctx, b, env)
	parties := benchParties(10)
	before := usedMemory(ctx, b, env)
	n := *capacityEvents
	workers := 64
	errs := make(chan error, workers)
	now := event.Millis(time.Now())
	for w := range workers {
		go func() {
			for i := w; i < n; i += workers {
				p, user := parties[i%len(parties)], "u"+strconv.Itoa(i%500)
				e := event.Event{Type: event.Chat, ID: event.NewID(p, user, "c"+strconv.Itoa(i)), PartyID: p,
					UserID: user, CreatedAt: now, Text: chatText48}
				if _, err := a.Append(ctx, e, true); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			b.Fatalf("append: %v", err)
		}
	}
	stored := int64(0)
	for _, p := range parties {
		stored += env.rdb.XLen(ctx, stream.KeysFor(p).Stream).Val()
	}
	if stored != int64(n) {
		b.Fatalf("%d chats appended, %d in the streams", n, stored)
	}
	grown := usedMemory(ctx, b, env) - before
	perEvent := float64(grown) / float64(n)
	say(b, "redis: %d chats in 10 streams (client-id index included): used_memory +%.1f MiB, %.0f bytes per chat",
		n, float64(grown)/(1<<20), perEvent)
	return perEvent
}

func usedMemory(ctx context.Context, b *testing.B, env *env) int64 {
	b.Helper()
	info, err := env.rdb.Info(ctx, "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	v, err := strconv.ParseInt(parseInfo(info)["used_memory"], 10, 64)
	if err != nil {
		b.Fatalf("used_memory: %v", err)
	}
	return v
}

// onePartyRate appends chats with client ids into ONE party through
// stream.Appender (the gateway's Redis path: pipelined append scripts) from
// 64 goroutines, and returns its rate and Redis's CPU µs per chat: the
// most one party's stream, on one shard, takes.
func onePartyRate(ctx context.Context, b *testing.B) (loopResult, float64) {
	b.Helper()
	env := newEnv(b)
	a := runAppender(ctx, b, env)
	party := benchParties(1)[0]
	const workers = 64
	seqs := make([]int, workers)
	now := event.Millis(time.Now())
	b.StartTimer()
	r := timeLoop(ctx, b, env, "one party", workers, func(ctx context.Context, w int) (int, error) {
		seqs[w]++
		user := "u" + strconv.Itoa(w)
		e := event.Event{Type: event.Chat, ID: event.NewID(party, user, "c"+strconv.Itoa(seqs[w])), PartyID: party,
			UserID: user, CreatedAt: now, Text: chatText48}
		_, err := a.Append(ctx, e, true)
		return 1, err
	})
	b.StopTimer()
	if n := env.rdb.XLen(ctx, stream.KeysFor(party).Stream).Val(); int64(r.n) != n {
		b.Fatalf("%d chats appended, %d in the party's stream", r.n, n)
	}
	redisUS := micros(r.use.Redis, r.n)
	say(b, "one party, %d goroutines through stream.Appender: %.0f chats/s; per chat: redis %.1fµs, go %.1fµs; %s",
		workers, r.rate(), redisUS, micros(r.use.Self, r.n), r.use)
	warnNoise(b, "the one-party run", r.use)
	return r, redisUS
}
