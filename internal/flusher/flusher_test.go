package flusher

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newDB(t *testing.T) *pgxpool.Pool { return testenv.NewPool(t, store.Migrate) }

func testConfig() Config {
	return Config{ConsumerName: "test-flusher", FlushInterval: time.Hour, ShutdownTimeout: 5 * time.Second,
		BatchSize: 1000, MaxDeliveries: 2, ClaimMinIdle: time.Minute, Retention: time.Hour,
		SchedulerInterval: time.Second, LeaseTTL: 3 * time.Second, ViewerSampleInterval: time.Hour}
}

// countingWriter counts the transactions a flusher starts.
type countingWriter struct {
	*store.Writer
	writes atomic.Int64
}

func (w *countingWriter) Write(ctx context.Context, events []event.Event) error {
	w.writes.Add(1)
	return w.Writer.Write(ctx, events)
}

// newFlusher returns a flusher over rdb and db whose writes are counted.
func newFlusher(t *testing.T, cfg Config, rdb redis.UniversalClient, db *pgxpool.Pool) (*Flusher, *countingWriter) {
	t.Helper()
	f, err := New(cfg, rdb, db, NewMetrics(), testenv.Logger())
	if err != nil {
		t.Fatal(err)
	}
	w := &countingWriter{Writer: store.NewWriter(db)}
	f.writer = w
	return f, w
}

func insertParty(t *testing.T, db *pgxpool.Pool, id uuid.UUID) {
	t.Helper()
	now := time.Now()
	err := store.NewParties(db).Insert(context.Background(), store.Party{ID: id, Title: "t", VideoURL: "v",
		HostUserID: "host", StartTime: now.Add(-time.Minute), EndTime: now.Add(time.Hour), Status: store.Ongoing,
		Control: store.ControlHost})
	if err != nil {
		t.Fatal(err)
	}
}

// chats returns n chat events of party.
func chats(party uuid.UUID, n int) []event.Event {
	out := make([]event.Event, n)
	at := time.Now()
	for i := range out {
		out[i] = event.Event{Type: event.Chat, ID: uuid.New(), PartyID: party, UserID: "u" + strconv.Itoa(i%7),
			CreatedAt: event.Millis(at.Add(time.Duration(i) * time.Millisecond)), Text: "chat " + strconv.Itoa(i)}
	}
	return out
}

// appendRaw adds entries with the given fields to party's stream, as a
// gateway's append does, and registers the stream for flushing.
func appendRaw(t *testing.T, rdb redis.UniversalClient, party uuid.UUID, entries ...map[string]any) []string {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, len(entries))
	for i, fields := range entries {
		id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream.KeysFor(party).Stream, Values: fields}).Result()
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	if err := rdb.SAdd(ctx, stream.RegistryKey, party.String()).Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// appendEvents adds events to party's stream in the stream entry form.
func appendEvents(t *testing.T, rdb redis.UniversalClient, party uuid.UUID, events []event.Event) []string {
	t.Helper()
	entries := make([]map[string]any, len(events))
	for i, e := range events {
		data, err := event.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		entries[i] = map[string]any{"e": string(data)}
	}
	return appendRaw(t, rdb, party, entries...)
}

func pending(t *testing.T, rdb redis.UniversalClient, party uuid.UUID) int64 {
	t.Helper()
	p, err := rdb.XPending(context.Background(), stream.KeysFor(party).Stream, stream.Group).Result()
	if err != nil {
		t.Fatal(err)
	}
	return p.Count
}

func count(t *testing.T, db *pgxpool.Pool, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
