package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/flusher"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
)

const flushBatch = 5000

// BenchmarkFlushThroughput times the flusher draining a backlog of party
// events from Redis into PostgreSQL end to end (read, decode, write, XACK,
// trim), against raw COPYs of the same rows into empty copies of the tables
// measured in the same run. It also times the parts of the flusher's work on
// their own, to show where the time goes. ns/op is the flusher's run.
//
// CPU profile by phase: go test -run '^$' -bench FlushThroughput -benchtime 1x
// -cpuprofile cpu.out ./bench/ && go tool pprof -tagfocus phase=flusher cpu.out
// flushTarget is the flusher's rate the benchmark expects, as a share of
// raw COPY's in the same run.
const flushTarget = 0.90

func BenchmarkFlushThroughput(b *testing.B) {
	b.StopTimer()
	ctx := context.Background()
	env := newEnv(b)
	// Autovacuum would vacuum one phase's tables during the next phases.
	for _, sql := range []string{"ALTER SYSTEM SET autovacuum = off", "SELECT pg_reload_conf()"} {
		if _, err := env.pool.Exec(ctx, sql); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
	parties := insertParties(ctx, b, env.pool, *flushParties)
	w := newWorkload(parties, *flushPerParty)
	n := w.total()
	say(b, "machine: %s", machine())

	start := time.Now()
	if err := fillRedis(ctx, env.rdb, w); err != nil {
		b.Fatalf("fill redis: %v", err)
	}
	say(b, "backlog: %d events (%d chats, %d likes, %d logs) in %d parties, filled in %.1fs",
		n, w.chats, w.likes, w.logs, len(parties), time.Since(start).Seconds())

	probe := probeRedis(ctx, b, env.rdb, parties)

	// The flusher, end to end.
	checkpoint(ctx, b, env.pool)
	runtime.GC()
	resetStats(ctx, b, env.rdb)
	m := newMeter(ctx, env.rdb, env.pool)
	m.Start(ctx)
	b.StartTimer()
	runFlusher(ctx, b, env, parties)
	b.StopTimer()
	fl := m.Stop(ctx)
	redisStats := commandStats(ctx, env.rdb)
	verifyRows(ctx, b, env.pool, "watch_party_", w)

	// Baselines: the same rows COPYed straight into empty tables.
	createCopyTables(ctx, b, env.pool)
	batches := w.batches(flushBatch)
	rows := make([]tableRows, len(batches))
	for i, batch := range batches {
		rows[i] = rowsOf(batch, false)
	}
	raw := timeCopy(ctx, b, env, "copy", func() error { return copyBatches(ctx, env.pool, "raw_", rows, false) })
	verifyRows(ctx, b, env.pool, "raw_", w)
	rawGoogle := func() usage {
		googleRows := make([]tableRows, len(batches))
		for i, batch := range batches {
			googleRows[i] = rowsOf(batch, true)
		}
		return timeCopy(ctx, b, env, "copyuuid", func() error { return copyBatches(ctx, env.pool, "rawg_", googleRows, false) })
	}()
	verifyRows(ctx, b, env.pool, "rawg_", w)
	single := timeCopy(ctx, b, env, "copy1", func() error { return copySingle(ctx, env.pool, "one_", rows) })
	verifyRows(ctx, b, env.pool, "one_", w)
	fk := timeCopy(ctx, b, env, "copyfk", func() error { return copyBatches(ctx, env.pool, "fk_", rows, false) })
	verifyRows(ctx, b, env.pool, "fk_", w)
	fkSkip := timeCopy(ctx, b, env, "copyfkskip", func() error { return copyBatches(ctx, env.pool, "fkskip_", rows, true) })
	verifyRows(ctx, b, env.pool, "fkskip_", w)

	// store.Writer alone (no Redis) on a second database.
	pool2 := openPool(b, env.pg.NewDatabase(b, store.Migrate))
	insertPartiesWithIDs(ctx, b, pool2, parties)
	writer := store.NewWriter(pool2)
	wr := timeCopy(ctx, b, env, "writer", func() error {
		for _, batch := range batches {
			if err := writer.Write(ctx, batch); err != nil {
				return err
			}
		}
		return nil
	})
	verifyRows(ctx, b, pool2, "watch_party_", w)

	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	ratio := raw.Wall.Seconds() / fl.Wall.Seconds()
	b.ReportMetric(rate(fl.Wall), "events/s")
	b.ReportMetric(rate(raw.Wall), "copy_events/s")
	b.ReportMetric(rate(single.Wall), "copy1_events/s")
	b.ReportMetric(rate(fk.Wall), "copyfk_events/s")
	b.ReportMetric(ratio, "ratio_vs_copy")
	b.ReportMetric(rawGoogle.Wall.Seconds()/fl.Wall.Seconds(), "ratio_vs_copyuuid")
	b.ReportMetric(fk.Wall.Seconds()/fl.Wall.Seconds(), "ratio_vs_copyfk")

	line := func(name string, u usage) {
		say(b, "%-60s %6.2fs %7.0f events/s; cpu µs/event: go %.1f, postgres %.1f, redis %.1f; %s", name,
			u.Wall.Seconds(), rate(u.Wall), micros(u.Self, n), micros(u.Postgres, n), micros(u.Redis, n), u)
		warnNoise(b, name, u)
	}
	say(b, "%d events each; ids go to pgx as [16]byte unless noted; the copies have the real tables' keys and indexes, FK only where noted; autovacuum off:", n)
	line("flusher: FlushOnce until empty (batch 5000, retention 0)", fl)
	line("raw COPY, 5000 rows/batch, tx per batch, no FK  [BASELINE]", raw)
	line("raw COPY, as above, ids as uuid.UUID (as store.Writer)", rawGoogle)
	line("raw COPY, single COPY per table, one tx, no FK", single)
	line("COPY, 5000 rows/batch, tx per batch, WITH FK", fk)
	line("COPY WITH FK, FK triggers off + 1 party lock per batch", fkSkip)
	line("store.Writer alone (no Redis), batch 5000, WITH FK", wr)
	verdict := "OK"
	if ratio < flushTarget {
		verdict = "BELOW TARGET"
	}
	result(b, "RESULT flusher %.0f events/s vs raw COPY %.0f events/s (5000 rows/COPY, tx per batch; the copy has no FK, the real tables do): ratio %.2f, target >= 0.90 (judge the median of 3 runs): %s",
		rate(fl.Wall), rate(raw.Wall), ratio, verdict)
	result(b, "RESULT single-COPY %.0f events/s; flusher vs COPY with FK %.2f, vs raw COPY with uuid.UUID ids %.2f",
		rate(single.Wall), fk.Wall.Seconds()/fl.Wall.Seconds(), rawGoogle.Wall.Seconds()/fl.Wall.Seconds())
	d := func(x, y usage) string {
		return fmt.Sprintf("%+.2fs (%+.1fµs/event)", (x.Wall - y.Wall).Seconds(), micros(x.Wall-y.Wall, n))
	}
	say(b, "where the flusher's %.2fs go (wall time; the flusher overlaps reading with writing, so parts do not add up):", fl.Wall.Seconds())
	say(b, "  XREADGROUP 5000/call + RESP parse, alone:  %.2fs (%.1fµs/event)", probe.read.Seconds(), micros(probe.read, n))
	say(b, "  JSON decode (event.Decode), alone:         %.2fs (%.1fµs/event)", probe.decode.Seconds(), micros(probe.decode, n))
	say(b, "  XACK 5000 ids/call, alone:                 %.2fs (%.1fµs/event)", probe.ack.Seconds(), micros(probe.ack, n))
	say(b, "  FK checks (COPY with FK - raw COPY):       %s", d(fk, raw))
	say(b, "  ids as uuid.UUID (pgx Valuer path):        %s", d(rawGoogle, raw))
	say(b, "  store.Writer - COPY with FK:               %s (uuid.UUID encoding, savepoints, sort, split)", d(wr, fk))
	say(b, "  flusher - store.Writer:                    %s (Redis, decode, XACK, trim, metrics not hidden by the overlap)", d(fl, wr))
	say(b, "  redis server time in the flusher run:%s", formatCommandStats(redisStats, n))
}

func micros(d time.Duration, n int) float64 { return float64(d.Microseconds()) / float64(n) }

func runFlusher(ctx context.Context, b *testing.B, env *env, parties []uuid.UUID) {
	b.Helper()
	cfg := flusher.Config{BatchSize: flushBatch, Retention: 0, ConsumerName: "bench", ShutdownTimeout: 5 * time.Second,
		MaxDeliveries: 5, ClaimMinIdle: time.Minute}
	f, err := flusher.New(cfg, env.rdb, env.pool, flusher.NewMetrics(), quietLogger())
	if err != nil {
		b.Fatalf("new flusher: %v", err)
	}
	consumer := stream.NewConsumer(env.rdb, "bench")
	pprof.Do(ctx, pprof.Labels("phase", "flusher"), func(ctx context.Context) {
		for range 10 {
			if _, err := f.FlushOnce(ctx); err != nil {
				b.Fatalf("flush: %v", err)
			}
			var left int64
			for _, p := range parties {
				n, err := consumer.Backlog(ctx, p)
				if err != nil {
					b.Fatalf("backlog: %v", err)
				}
				left += n
			}
			if left == 0 {
				return
			}
		}
		b.Fatal("backlog not empty after 10 FlushOnce calls")
	})
}

// probe is the cost of the flusher's Redis work done alone, through a
// separate consumer group so the flusher's own group is untouched.
type probe struct{ read, decode, ack time.Duration }

func probeRedis(ctx context.Context, b *testing.B, rc redis.UniversalClient, parties []uuid.UUID) probe {
	b.Helper()
	var pr probe
	pprof.Do(ctx, pprof.Labels("phase", "probe"), func(ctx context.Context) {
		for _, p := range parties {
			key := stream.KeysFor(p).Stream
			if err := rc.XGroupCreate(ctx, key, "probe", "0").Err(); err != nil {
				b.Fatalf("create probe group: %v", err)
			}
			for {
				t := time.Now()
				res, err := rc.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "probe", Consumer: "probe",
					Streams: []string{key, ">"}, Count: flushBatch, Block: -1}).Result()
				pr.read += time.Since(t)
				if errors.Is(err, redis.Nil) || (err == nil && len(res[0].Messages) == 0) {
					break
				}
				if err != nil {
					b.Fatalf("probe read: %v", err)
				}
				t = time.Now()
				ids := make([]string, 0, len(res[0].Messages))
				for _, m := range res[0].Messages {
					payload, _ := m.Values["e"].(string)
					if _, err := event.Decode([]byte(payload), m.ID); err != nil {
						b.Fatalf("probe decode: %v", err)
					}
					ids = append(ids, m.ID)
				}
				pr.decode += time.Since(t)
				t = time.Now()
				if err := rc.XAck(ctx, key, "probe", ids...).Err(); err != nil {
					b.Fatalf("probe ack: %v", err)
				}
				pr.ack += time.Since(t)
			}
			if err := rc.XGroupDestroy(ctx, key, "probe").Err(); err != nil {
				b.Fatalf("destroy probe group: %v", err)
			}
		}
	})
	return pr
}

// checkpoint flushes dirty pages so that one phase's checkpoint does not
// land in the next phase.
func checkpoint(ctx context.Context, b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	if _, err := pool.Exec(ctx, "CHECKPOINT"); err != nil {
		b.Fatalf("checkpoint: %v", err)
	}
}

func timeCopy(ctx context.Context, b *testing.B, env *env, phase string, fn func() error) usage {
	b.Helper()
	checkpoint(ctx, b, env.pool)
	runtime.GC()
	m := newMeter(ctx, env.rdb, env.pool)
	m.Start(ctx)
	var err error
	pprof.Do(ctx, pprof.Labels("phase", phase), func(context.Context) { err = fn() })
	u := m.Stop(ctx)
	if err != nil {
		b.Fatalf("%s: %v", phase, err)
	}
	return u
}

// createCopyTables makes empty copies of the event tables: raw_, rawg_ and one_
// with the same primary keys, checks and indexes but no foreign key (LIKE
// does not copy them), fk_ and fkskip_ with the foreign key of the real
// tables as well.
func createCopyTables(ctx context.Context, b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	for _, prefix := range []string{"raw_", "rawg_", "one_", "fk_", "fkskip_"} {
		fk := ""
		if prefix == "fk_" || prefix == "fkskip_" {
			fk = ", FOREIGN KEY (party_id) REFERENCES watch_parties (id)"
		}
		for _, t := range []string{"chats", "likes", "logs"} {
			sql := fmt.Sprintf("CREATE TABLE %s%s (LIKE watch_party_%s INCLUDING ALL%s)", prefix, t, t, fk)
			if _, err := pool.Exec(ctx, sql); err != nil {
				b.Fatalf("%s: %v", sql, err)
			}
		}
	}
}

// copyBatches COPYs each batch's rows in a transaction of its own, like the
// flusher commits each batch. skipFK turns the foreign-key triggers off for
// the transaction and locks the batch's party once instead, which gives the
// same guarantee when, as in the flusher, a batch holds one party.
func copyBatches(ctx context.Context, pool *pgxpool.Pool, prefix string, batches []tableRows, skipFK bool) error {
	for _, r := range batches {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if skipFK {
				if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
					return err
				}
				party := firstParty(r)
				var one int
				if err := tx.QueryRow(ctx, "SELECT 1 FROM watch_parties WHERE id = $1 FOR KEY SHARE", party).Scan(&one); err != nil {
					return fmt.Errorf("lock party %s: %w", party, err)
				}
			}
			return copyRows(ctx, tx, prefix, r)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func firstParty(r tableRows) any {
	switch {
	case len(r.chats) > 0:
		return r.chats[0][1]
	case len(r.likes) > 0:
		return r.likes[0][0]
	default:
		return r.logs[0][1]
	}
}

// copySingle COPYs all rows with one COPY per table in one transaction.
func copySingle(ctx context.Context, pool *pgxpool.Pool, prefix string, batches []tableRows) error {
	var all tableRows
	for _, r := range batches {
		all.chats = append(all.chats, r.chats...)
		all.likes = append(all.likes, r.likes...)
		all.logs = append(all.logs, r.logs...)
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return copyRows(ctx, tx, prefix, all) })
}

func copyRows(ctx context.Context, tx pgx.Tx, prefix string, r tableRows) error {
	for _, t := range []struct {
		name string
		cols []string
		rows [][]any
	}{{"chats", chatColumns, r.chats}, {"likes", likeColumns, r.likes}, {"logs", logColumns, r.logs}} {
		if len(t.rows) == 0 {
			continue
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{prefix + t.name}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
			return fmt.Errorf("copy %s%s: %w", prefix, t.name, err)
		}
	}
	return nil
}

// verifyRows fails the benchmark unless the tables hold exactly the
// workload's rows.
func verifyRows(ctx context.Context, b *testing.B, pool *pgxpool.Pool, prefix string, w *workload) {
	b.Helper()
	for _, t := range []struct {
		name string
		want int
	}{{"chats", w.chats}, {"likes", w.likes}, {"logs", w.logs}} {
		var got int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+prefix+t.name).Scan(&got); err != nil {
			b.Fatalf("count %s%s: %v", prefix, t.name, err)
		}
		if got != t.want {
			b.Fatalf("%s%s holds %d rows, want %d", prefix, t.name, got, t.want)
		}
	}
}

// insertPartiesWithIDs stores the given parties as ONGOING.
func insertPartiesWithIDs(ctx context.Context, b *testing.B, pool *pgxpool.Pool, ids []uuid.UUID) {
	b.Helper()
	parties := store.NewParties(pool)
	now := time.Now()
	for i, id := range ids {
		err := parties.Insert(ctx, store.Party{ID: id, Title: fmt.Sprintf("bench party %d", i),
			VideoURL: "https://example.com/v.mp4", HostUserID: fmt.Sprintf("host%d", i),
			StartTime: now.Add(-time.Hour), EndTime: now.Add(24 * time.Hour), Status: store.Ongoing, Control: store.ControlHost})
		if err != nil {
			b.Fatalf("insert party: %v", err)
		}
	}
}
