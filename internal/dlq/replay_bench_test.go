package dlq_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
)

// BenchmarkReplay10k replays a list of 10,000 one-event batches, the shape
// a party whose every event failed used to leave behind, with a write that
// does nothing (the list handling alone) and with one that fails every
// batch again, so that each stays where it was.
//
//	go test -run '^$' -bench BenchmarkReplay10k -benchtime 3x ./internal/dlq/
func BenchmarkReplay10k(b *testing.B) {
	const n = 10_000
	refused := &pgconn.PgError{Code: "23503", Message: "party is not present in table watch_parties"}
	cases := []struct {
		name  string
		write dlq.WriteFunc
		want  string
	}{
		{"written", func(context.Context, []event.Event) error { return nil }, "replayed=10000 failed=0 left=0"},
		{"failed-again", func(context.Context, []event.Event) error { return refused }, "replayed=0 failed=10000 left=10000"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			rdb := newRedis(b)
			ctx := context.Background()
			party := uuid.New()
			elems := make([]any, n)
			for i := range elems {
				data, err := json.Marshal(batch(ev(party, event.Chat, "u")))
				if err != nil {
					b.Fatal(err)
				}
				elems[i] = string(data)
			}
			var serverUsec int64
			for b.Loop() {
				b.StopTimer()
				if err := rdb.Del(ctx, dlq.Key).Err(); err != nil {
					b.Fatal(err)
				}
				for i := 0; i < n; i += 1000 {
					if err := rdb.RPush(ctx, dlq.Key, elems[i:i+1000]...).Err(); err != nil {
						b.Fatal(err)
					}
				}
				if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				rep, err := dlq.Replay(ctx, rdb, c.write, dlq.ReplayOptions{})
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				serverUsec += commandUsec(b, rdb)
				if got := counts(rep); got != c.want {
					b.Fatalf("replay: %s, want %s", got, c.want)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(serverUsec)/1000/float64(b.N), "redis-ms/op")
		})
	}
}

// commandUsec returns the microseconds Redis spent running commands since
// its statistics were reset: the server's share of a replay, which the
// machine's load does not blur as much as the wall clock.
func commandUsec(b *testing.B, rdb redis.UniversalClient) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, line := range strings.Split(info, "\n") {
		if !strings.HasPrefix(line, "cmdstat_") || strings.HasPrefix(line, "cmdstat_config") {
			continue
		}
		for _, f := range strings.Split(strings.TrimSpace(line[strings.Index(line, ":")+1:]), ",") {
			if v, ok := strings.CutPrefix(f, "usec="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					b.Fatalf("commandstats line %q: %v", line, err)
				}
				total += n
			}
		}
	}
	return total
}
