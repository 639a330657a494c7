package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

// addEntries appends entries with the given fields to party's stream, as a
// gateway would, registers it for flushing and returns their ids.
func addEntries(t *testing.T, s *system, party string, entries ...map[string]any) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for _, fields := range entries {
		id, err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: streamKey(party), Values: fields}).Result()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := s.rdb.SAdd(ctx, "wp:streams", party).Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func chatEntry(party string, i int, typ string) map[string]any {
	data, _ := json.Marshal(map[string]any{"type": typ, "event_id": uuid.NewString(), "party_id": party,
		"user_id": fmt.Sprintf("u%d", i%5), "created_at": time.Now().UTC().Format(time.RFC3339Nano), "text": fmt.Sprintf("chat %d", i)})
	return map[string]any{"e": string(data)}
}

// TestPartyWithoutRowIsOneDLQBatch: a party whose watch_parties row is
// missing has all its events dead-lettered as one wp:dlq element by the
// flusher binary, after WATCH_PARTY_MAX_DELIVERIES runs, and replay-dlq
// writes them all once the row is back.
func TestPartyWithoutRowIsOneDLQBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the flusher through every delivery; skipped with -short")
	}
	s := newSystem(t, testenv.StartRedis(t).URL(), testenv.NewDatabase(t, store.Migrate)) // wp:dlq is global
	ctx := context.Background()
	party := uuid.NewString()
	const n = 3000
	var entries []map[string]any
	for i := range n {
		entries = append(entries, chatEntry(party, i, "chat"))
	}
	addEntries(t, s, party, entries...)
	env := []string{"WATCH_PARTY_CONSUMER_NAME=orphan-flusher", "WATCH_PARTY_MAX_DELIVERIES=2"}
	s.flushOnce(env...)
	if got := s.rdb.LLen(ctx, "wp:dlq").Val(); got != 0 {
		t.Fatalf("wp:dlq holds %d elements after one attempt", got)
	}
	s.flushOnce(env...)
	code, out := flusherCommand(t, s, "dlq", "list")
	lines := nonLogLines(out)
	if code != 0 || len(lines) != 1 {
		t.Fatalf("flusher dlq list: exit %d, %d lines, want 1\n%s", code, len(lines), out)
	}
	if f := strings.Split(lines[0], "\t"); len(f) != 7 || f[1] != party || f[2] != fmt.Sprint(n) || f[3] != "23503" || f[4] != "2" {
		t.Fatalf("dlq list line %q: want party %s, %d events, 23503, 2 attempts", lines[0], party, n)
	}
	if p := pendingCount(t, s, party); p != 0 {
		t.Fatalf("%d entries pending after dead-lettering", p)
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO watch_parties (id, title, video_url, host_user_id, start_time, end_time, status)
		VALUES ($1, 'restored', 'https://example.com/v.mp4', 'host', now() - interval '1 hour', now(), 'FINISHED')`, party); err != nil {
		t.Fatal(err)
	}
	code, out = flusherCommand(t, s, "replay-dlq")
	if code != 0 || !strings.Contains(out, "replayed=1 failed=0 left=0") {
		t.Fatalf("replay-dlq: exit %d, want 0 and replayed=1 failed=0 left=0\n%s", code, out)
	}
	if got := s.count(`SELECT count(*) FROM watch_party_chats WHERE party_id = $1`, party); got != n {
		t.Fatalf("%d chats after the replay, want %d", got, n)
	}
}

// TestUndecodableEntryIsKeptRaw: an entry of a type this flusher does not
// know (as a newer gateway would write in a rolling deploy) is dead-lettered
// whole, every field as stored, while the good ones are written; a replay
// by the same binary keeps it, still whole, and says so.
func TestUndecodableEntryIsKeptRaw(t *testing.T) {
	s := newSystem(t, testenv.StartRedis(t).URL(), testenv.NewDatabase(t, store.Migrate)) // wp:dlq is global
	ctx := context.Background()
	party := s.party("ONGOING", "host")
	future := chatEntry(party, 1, "poll")
	future["v"] = "2"
	ids := addEntries(t, s, party, chatEntry(party, 0, "chat"), future, chatEntry(party, 2, "chat"))
	env := []string{"WATCH_PARTY_CONSUMER_NAME=old-flusher", "WATCH_PARTY_MAX_DELIVERIES=2"}
	s.flushOnce(env...)
	s.flushOnce(env...)
	if got := s.count(`SELECT count(*) FROM watch_party_chats WHERE party_id = $1`, party); got != 2 {
		t.Fatalf("%d chats written, want the 2 good ones", got)
	}
	check := func(attempts float64) {
		t.Helper()
		raws := s.rdb.LRange(ctx, "wp:dlq", 0, -1).Val()
		if len(raws) != 1 {
			t.Fatalf("wp:dlq = %q, want one element", raws)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(raws[0]), &doc); err != nil {
			t.Fatal(err)
		}
		want := []any{map[string]any{"stream_id": ids[1], "fields": map[string]any{"e": future["e"], "v": "2"}}}
		if diff := cmp.Diff(want, doc["raw"]); diff != "" {
			t.Fatalf("raw entries (-want +got):\n%s\n%s", diff, raws[0])
		}
		if doc["party_id"] != party || doc["attempts"] != attempts || !strings.Contains(fmt.Sprint(doc["error"]), "poll") {
			t.Fatalf("wp:dlq element %s: want party %s, %v attempts, an error naming the type", raws[0], party, attempts)
		}
	}
	check(2)
	if p := pendingCount(t, s, party); p != 0 {
		t.Fatalf("%d entries pending after dead-lettering", p)
	}
	code, out := flusherCommand(t, s, "replay-dlq")
	if code == 0 || !strings.Contains(out, "replayed=0 failed=1 left=1") {
		t.Fatalf("replay-dlq by a binary that does not know the type: exit %d, want non-zero and replayed=0 failed=1 left=1\n%s", code, out)
	}
	check(3)
}
