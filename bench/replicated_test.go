package bench

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

// BenchmarkIngestReplicated measures what WATCH_PARTY_MIN_REPLICAS_ACK=1
// costs: the BenchmarkIngest load (one client per party, a window of
// un-acked chats each, then a paced phase) against a Redis master with one
// replica on the same machine, with the gateway acking on the master's
// reply (min_replicas_ack=0) or after WAIT 1 confirms each pipeline
// (min_replicas_ack=1). Each sub-benchmark has its own servers.
func BenchmarkIngestReplicated(b *testing.B) {
	for _, min := range []int{0, 1} {
		b.Run("min_replicas_ack="+strconv.Itoa(min), func(b *testing.B) { benchReplicated(b, min) })
	}
}

func benchReplicated(b *testing.B, minReplicas int) {
	b.StopTimer()
	ctx := context.Background()
	master := testenv.StartRedis(b)
	replica := testenv.StartRedis(b, "--replicaof", "127.0.0.1", strings.TrimPrefix(master.Addr(), "127.0.0.1:"))
	rc := redis.NewClient(&redis.Options{Addr: replica.Addr()})
	defer rc.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := rc.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("replica not in sync after 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling the replica's link
	}
	p := testenv.StartPostgres(b)
	env := &env{pg: p, redisURL: master.URL(), dbURL: p.NewDatabase(b, store.Migrate)}
	env.rdb = openRedis(b, env.redisURL)
	env.pool = openPool(b, env.dbURL)

	parties := insertParties(ctx, b, env.pool, *ingestClients)
	addr, metrics := startGateway(ctx, b, env, minReplicas)
	clients := connectClients(ctx, b, addr, parties)

	res, paced := saturateThenPace(ctx, b, env, clients, parties, nil)
	short := testutil.ToFloat64(metrics.ReplicaShortfalls)

	b.ReportMetric(res.rate(), "acked/s")
	b.ReportMetric(ms(res.p50), "p50_ms")
	b.ReportMetric(ms(res.p99), "p99_ms")
	b.ReportMetric(ms(paced.p50), "paced_p50_ms")
	b.ReportMetric(ms(paced.p99), "paced_p99_ms")
	result(b, "RESULT min_replicas_ack=%d: %.0f acked events/s (p50 %.2fms, p99 %.2fms); paced at %.0f/s: %.0f/s, p50 %.2fms, p99 %.2fms; %d+%d error frames, %.0f replica shortfalls",
		minReplicas, res.rate(), ms(res.p50), ms(res.p99), *ingestPaced, paced.rate(), ms(paced.p50), ms(paced.p99),
		res.errs, paced.errs, short)
	warnNoise(b, "the saturating run", res.use)
	warnNoise(b, "the paced run", paced.use)
}
