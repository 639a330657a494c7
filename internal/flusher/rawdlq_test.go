package flusher

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// olderDecoder decodes like event.Decode but does not know likes, as a
// flusher older than the gateway that wrote them would.
func olderDecoder(payload []byte, streamID string) (event.Event, error) {
	e, err := event.Decode(payload, streamID)
	if err == nil && e.Type == event.Like {
		return event.Event{}, fmt.Errorf("stream entry %s: unknown event type %q", streamID, e.Type)
	}
	return e, err
}

// TestUnknownEventWaitsRawInTheDLQ plays a rolling deploy: a newer gateway
// wrote an event of a type an older flusher cannot decode. The older
// flusher writes the rest, then dead-letters that entry whole (every field
// as stored, and its stream id) after WATCH_PARTY_MAX_DELIVERIES attempts,
// and acknowledges it. A flusher that knows the type replays it into
// PostgreSQL.
func TestUnknownEventWaitsRawInTheDLQ(t *testing.T) {
	rdb, db := testenv.StartRedisClient(t), newDB(t)
	ctx := context.Background()
	cfg := testConfig()
	older, _ := newFlusher(t, cfg, rdb, db)
	older.consumer = older.consumer.(*stream.Consumer).WithDecoder(olderDecoder)
	party := uuid.New()
	insertParty(t, db, party)
	evs := chats(party, 3)
	like := evs[1]
	like.Type, like.Text = event.Like, ""
	payload, err := event.Encode(like)
	if err != nil {
		t.Fatal(err)
	}
	appendEvents(t, rdb, party, evs[:1])
	// The newer gateway also stored a field this flusher has never heard of.
	likeID := appendRaw(t, rdb, party, map[string]any{"e": string(payload), "v": "2"})[0]
	appendEvents(t, rdb, party, evs[2:])

	for range cfg.MaxDeliveries {
		if _, err := older.FlushOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM watch_party_chats WHERE party_id = $1`, party); n != 2 {
		t.Fatalf("%d chats written by the older flusher, want 2", n)
	}
	if p := pending(t, rdb, party); p != 0 {
		t.Fatalf("%d entries pending, want the like dead-lettered and acknowledged", p)
	}
	raws, err := rdb.LRange(ctx, dlq.Key, 0, -1).Result()
	if err != nil || len(raws) != 1 {
		t.Fatalf("wp:dlq = %q, %v; want one element", raws, err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(raws[0]), &doc); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"party_id", "stream", "events", "error", "sqlstate", "attempts", "failed_at"} {
		if _, ok := doc[field]; !ok {
			t.Errorf("wp:dlq element lacks the SPEC field %q: %s", field, raws[0])
		}
	}
	wantRaw := []any{map[string]any{"stream_id": likeID, "fields": map[string]any{"e": string(payload), "v": "2"}}}
	if diff := cmp.Diff(wantRaw, doc["raw"]); diff != "" {
		t.Fatalf("raw entries of the wp:dlq element (-want +got):\n%s\nelement: %s", diff, raws[0])
	}

	// A replay by the older flusher cannot decode it either: the batch
	// fails again and stays, one more attempt counted.
	rep, err := dlq.Replay(ctx, rdb, store.NewWriter(db).Write, dlq.ReplayOptions{Decode: olderDecoder})
	if err != nil || rep.Replayed != 0 || rep.Failed != 1 || rep.Left != 1 {
		t.Fatalf("replay by the older flusher: %+v, %v; want 1 failed, 1 left", rep, err)
	}
	list, err := dlq.List(ctx, rdb, 0)
	if err != nil || len(list) != 1 || list[0].Batch.Attempts != cfg.MaxDeliveries+1 || list[0].Batch.Len() != 1 ||
		!strings.Contains(list[0].Batch.Error, `unknown event type "like"`) {
		t.Fatalf("after the older replay: %+v, %v; want the raw like kept, %d attempts", list, err, cfg.MaxDeliveries+1)
	}

	// A flusher that knows likes replays it.
	rep, err = dlq.Replay(ctx, rdb, store.NewWriter(db).Write, dlq.ReplayOptions{})
	if err != nil || rep.Replayed != 1 || rep.Left != 0 {
		t.Fatalf("replay by the newer flusher: %+v, %v; want 1 replayed, 0 left", rep, err)
	}
	var got uuid.UUID
	if err := db.QueryRow(ctx, `SELECT event_id FROM watch_party_likes WHERE party_id = $1`, party).Scan(&got); err != nil || got != like.ID {
		t.Fatalf("like row: %s, %v; want event %s", got, err, like.ID)
	}
}
