package dlq_test

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/store/storetest"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// newRedis returns a client of a throwaway server: wp:dlq is a global key.
func newRedis(t testing.TB) *redis.Client { return testenv.StartRedisClient(t) }

func newDB(t *testing.T) *pgxpool.Pool { return testenv.NewPool(t, store.Migrate) }

func newParty(t *testing.T, db *pgxpool.Pool) uuid.UUID { return storetest.NewParty(t, db) }

var at = time.Date(2026, 11, 27, 12, 0, 0, 123_456_789, time.UTC)

var streamSeq int

func ev(party uuid.UUID, typ event.Type, user string) event.Event {
	streamSeq++
	e := event.Event{Type: typ, ID: uuid.New(), PartyID: party, UserID: user, Name: "Display Name",
		CreatedAt: event.Millis(at.Add(time.Duration(streamSeq) * time.Millisecond)),
		StreamID:  "1732000000000-" + strconv.Itoa(streamSeq)}
	switch typ {
	case event.Chat:
		e.Text = "hello\nfrom " + user
	case event.Play, event.Pause, event.Seek:
		pos := int64(120000)
		e.PositionMS = &pos
	case event.Viewers:
		n := 13
		e.Viewers = &n
		e.UserID = ""
	}
	return e
}

func streamKey(p uuid.UUID) string { return stream.KeysFor(p).Stream }

// batch returns a dead-letter batch of events that failed with a foreign
// key violation after five deliveries.
func batch(events ...event.Event) dlq.Batch {
	err := &pgconn.PgError{Severity: "ERROR", Code: "23503", Message: "insert or update violates foreign key constraint\n\tdetail"}
	return dlq.NewBatch(streamKey(events[0].PartyID), events, err, 5, at)
}

func push(t *testing.T, rdb redis.UniversalClient, bs ...dlq.Batch) {
	t.Helper()
	for _, b := range bs {
		if err := dlq.Push(context.Background(), rdb, b); err != nil {
			t.Fatal(err)
		}
	}
}

// raws returns wp:dlq as stored.
func raws(t *testing.T, rdb redis.UniversalClient) []string {
	t.Helper()
	out, err := rdb.LRange(context.Background(), dlq.Key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func count(t *testing.T, db *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestEventJSONIsTheSPECForm(t *testing.T) {
	party := uuid.MustParse("0b7c0f8e-4c2a-4f4e-9c57-3f4f1d2a9b10")
	base := []string{"created_at", "event_id", "party_id", "stream_id", "type", "user_id"}
	tests := []struct {
		name  string
		event event.Event
		extra map[string]any
	}{
		{"chat", ev(party, event.Chat, "u1"), map[string]any{"text": "hello\nfrom u1"}},
		{"like", ev(party, event.Like, "u1"), nil},
		{"join", ev(party, event.Join, "u1"), nil},
		{"leave", ev(party, event.Leave, "u1"), nil},
		{"play", ev(party, event.Play, "u1"), map[string]any{"position_ms": 120000.0}},
		{"pause", ev(party, event.Pause, "u1"), map[string]any{"position_ms": 120000.0}},
		{"seek", ev(party, event.Seek, "u1"), map[string]any{"position_ms": 120000.0}},
		{"viewers", ev(party, event.Viewers, ""), map[string]any{"viewers": 13.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := event.EncodeDeadLetter(tt.event)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"type": string(tt.event.Type), "event_id": tt.event.ID.String(), "party_id": party.String(),
				"user_id": tt.event.UserID, "created_at": event.FormatTime(tt.event.CreatedAt), "stream_id": tt.event.StreamID,
			}
			for k, v := range tt.extra {
				want[k] = v
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("JSON (-want +got):\n%s\nfrom %s", diff, data)
			}
			if len(got) != len(base)+len(tt.extra) {
				t.Errorf("fields %v, want %v plus %v", keys(got), base, keys(tt.extra))
			}
			back, err := event.DecodeDeadLetter(data)
			if err != nil {
				t.Fatal(err)
			}
			wantEvent := tt.event
			wantEvent.Name = "" // display names are not dead-lettered
			if diff := cmp.Diff(wantEvent, back); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreatedAtHasMilliseconds(t *testing.T) {
	e := ev(uuid.New(), event.Like, "u")
	e.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	data, err := event.EncodeDeadLetter(e)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		CreatedAt string `json:"created_at"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if want := "2026-01-02T02:04:05.000Z"; got.CreatedAt != want {
		t.Errorf("created_at = %q, want %q", got.CreatedAt, want)
	}
}
