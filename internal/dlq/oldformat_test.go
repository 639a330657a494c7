package dlq_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
)

// storedElement is a wp:dlq element exactly as flushers and replays wrote
// it before dead-letter events were encoded from the event package: four
// events, a raw entry of a newer flusher's stream (with a field this
// version does not know) and an expired replay claim.
const storedElement = `{"party_id":"5d1b8f0e-7a44-4c3e-9d7b-2f1c3a4b5c6d","stream":"wp:{5d1b8f0e-7a44-4c3e-9d7b-2f1c3a4b5c6d}:events",` +
	`"events":[` +
	`{"type":"chat","event_id":"a1a1a1a1-0000-4000-8000-000000000001","party_id":"5d1b8f0e-7a44-4c3e-9d7b-2f1c3a4b5c6d","user_id":"alice","created_at":"2026-11-20T08:30:00.120Z","text":"see \u003cthis\u003e \u0026 \"that\"\nbye","stream_id":"1763627400120-0"},` +
	`{"type":"like","event_id":"a1a1a1a1-0000-4000-8000-000000000002","party_id":"5d1b8f0e-7a44-4c3e-9d7b-2f1c3a4b5c6d","user_id":"bob","created_at":"2026-11-20T08:30:01.000Z","stream_id":"1763627401000-0"},` +
	`{"type":"seek","event_id":"a1a1a1a1-0000-4000-8000-000000000003","party_id":"5d1b8f0e-7a44-4c3e-9d7b-2f1c3a4b5c6d","user_id":"alice","created_at":"2026-11-20T08:30:02.005Z","position_ms":0,"stream_id":"1763627402005-0"},` +
	`{"type":"viewers","event_id":"a1a1a1a1-0000-4000-8000-000000000004","party_id":"5d1b8f0e-7a44-4c3e-9d7b-2f1c3a4b5c6d","user_id":"","created_at":"2026-11-20T08:30:00.000Z","viewers":2,"stream_id":"1763627400000-1"}],` +
	`"raw":[{"stream_id":"1763627403000-0","fields":{"e":"{\"type\":\"join\",\"event_id\":\"a1a1a1a1-0000-4000-8000-000000000005\",\"party_id\":\"5d1b8f0e-7a44-4c3e-9d7b-2f1c3a4b5c6d\",\"user_id\":\"carol\",\"name\":\"Carol\",\"created_at\":\"2026-11-20T08:30:03Z\"}","v":"2"}}],` +
	`"error":"ERROR: insert or update violates foreign key constraint (SQLSTATE 23503)","sqlstate":"23503","attempts":5,` +
	`"failed_at":"2026-11-20T08:31:00.000Z","replaying":{"owner":"0e6f0a52-1c8e-4a8f-b1c1-6d3c1f9c2a10","until":"2026-11-20T08:36:00.000Z"}}`

// TestReplayOfAStoredElement decodes and replays a dead-letter element
// written by an earlier version, field by field.
func TestReplayOfAStoredElement(t *testing.T) {
	rdb, db := newRedis(t), newDB(t)
	ctx := context.Background()
	party := uuid.MustParse("5d1b8f0e-7a44-4c3e-9d7b-2f1c3a4b5c6d")
	now := time.Now()
	if err := store.NewParties(db).Insert(ctx, store.Party{ID: party, Title: "t", VideoURL: "v", HostUserID: "alice",
		StartTime: now, EndTime: now.Add(time.Hour), Status: store.Ongoing, Control: store.ControlHost}); err != nil {
		t.Fatal(err)
	}

	var b dlq.Batch
	if err := json.Unmarshal([]byte(storedElement), &b); err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	zero, two := int64(0), 2
	ev := func(typ event.Type, n int, user, created, sid string) event.Event {
		return event.Event{Type: typ, ID: uuid.MustParse("a1a1a1a1-0000-4000-8000-00000000000" + string(rune('0'+n))),
			PartyID: party, UserID: user, CreatedAt: at(created), StreamID: sid}
	}
	chat := ev(event.Chat, 1, "alice", "2026-11-20T08:30:00.120Z", "1763627400120-0")
	chat.Text = "see <this> & \"that\"\nbye"
	seek := ev(event.Seek, 3, "alice", "2026-11-20T08:30:02.005Z", "1763627402005-0")
	seek.PositionMS = &zero
	viewers := ev(event.Viewers, 4, "", "2026-11-20T08:30:00.000Z", "1763627400000-1")
	viewers.Viewers = &two
	want := dlq.Batch{PartyID: party.String(), Stream: "wp:{" + party.String() + "}:events",
		Events: []event.Event{chat, ev(event.Like, 2, "bob", "2026-11-20T08:30:01.000Z", "1763627401000-0"), seek, viewers},
		Raw: []dlq.RawEntry{{StreamID: "1763627403000-0", Fields: map[string]string{"v": "2",
			"e": `{"type":"join","event_id":"a1a1a1a1-0000-4000-8000-000000000005","party_id":"5d1b8f0e-7a44-4c3e-9d7b-2f1c3a4b5c6d","user_id":"carol","name":"Carol","created_at":"2026-11-20T08:30:03Z"}`}}},
		Error: "ERROR: insert or update violates foreign key constraint (SQLSTATE 23503)", SQLState: "23503",
		Attempts: 5, FailedAt: at("2026-11-20T08:31:00.000Z")}
	if diff := cmp.Diff(want, b); diff != "" {
		t.Fatalf("decoded (-want +got):\n%s", diff)
	}

	if err := rdb.RPush(ctx, dlq.Key, storedElement).Err(); err != nil {
		t.Fatal(err)
	}
	rep := replay(t, rdb, store.NewWriter(db).Write, dlq.ReplayOptions{})
	if got, want := counts(rep), "replayed=1 failed=0 left=0"; got != want {
		t.Fatalf("replay: %s, want %s (%+v)", got, want, rep.Results)
	}
	var body string
	var pos int64
	var n int
	if err := db.QueryRow(ctx, `SELECT body FROM watch_party_chats WHERE event_id = $1`, chat.ID).Scan(&body); err != nil || body != chat.Text {
		t.Errorf("chat body %q, %v; want %q", body, err, chat.Text)
	}
	if err := db.QueryRow(ctx, `SELECT position_ms FROM watch_party_logs WHERE event_id = $1 AND action = 'seek'`, seek.ID).Scan(&pos); err != nil || pos != 0 {
		t.Errorf("seek position %d, %v; want 0", pos, err)
	}
	if err := db.QueryRow(ctx, `SELECT viewers FROM watch_party_viewer_counts WHERE party_id = $1`, party).Scan(&n); err != nil || n != 2 {
		t.Errorf("viewer count %d, %v; want 2", n, err)
	}
	for table, want := range map[string]int{"watch_party_likes": 1, "watch_party_logs": 2} {
		if got := count(t, db, table); got != want {
			t.Errorf("%s: %d rows, want %d", table, got, want)
		}
	}
}
