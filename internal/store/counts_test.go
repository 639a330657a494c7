package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
)

// counted is an event stored as a count: its type, text (the counted
// value), second and stream position.
func counted(party uuid.UUID, value string, at time.Time, streamID string) event.Event {
	return event.Event{Type: "cheer", ID: uuid.New(), PartyID: party, UserID: "u", CreatedAt: event.Millis(at),
		Text: value, StreamID: streamID}
}

func TestCountsAreCountedOnceThroughRedeliveryAndReplay(t *testing.T) {
	db := newDB(t)
	party, other := newParty(t, db), newParty(t, db)
	ctx := context.Background()
	s := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	read := func(p uuid.UUID) map[string]int64 {
		t.Helper()
		rows, err := db.Query(ctx, `SELECT type, value, second, count FROM watch_party_event_counts WHERE party_id = $1`, p)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]int64{}
		for rows.Next() {
			var typ, value string
			var second time.Time
			var n int64
			if err := rows.Scan(&typ, &value, &second, &n); err != nil {
				t.Fatal(err)
			}
			out[fmt.Sprintf("%s %s %s", typ, value, second.UTC().Format("15:04:05"))] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	write := func(es []event.Event, replayed bool) {
		t.Helper()
		if err := store.WriteCounts(ctx, db, es, replayed); err != nil {
			t.Fatal(err)
		}
	}
	ms := s.UnixMilli()
	batch := []event.Event{
		counted(party, "🎉", s.Add(100*time.Millisecond), fmt.Sprintf("%d-0", ms+100)),
		counted(party, "🎉", s.Add(200*time.Millisecond), fmt.Sprintf("%d-0", ms+200)),
		counted(party, "❤️", s.Add(200*time.Millisecond), fmt.Sprintf("%d-1", ms+200)),
		counted(party, "🎉", s.Add(900*time.Millisecond), fmt.Sprintf("%d-0", ms+900)),
		counted(party, "🎉", s.Add(1100*time.Millisecond), fmt.Sprintf("%d-0", ms+1100)),
		counted(other, "🎉", s.Add(100*time.Millisecond), fmt.Sprintf("%d-0", ms+100)),
	}
	write(batch, false)
	want := map[string]int64{"cheer 🎉 10:00:00": 3, "cheer ❤️ 10:00:00": 1, "cheer 🎉 10:00:01": 1}
	if diff := cmp.Diff(want, read(party)); diff != "" {
		t.Fatalf("after the first write (-want +got):\n%s", diff)
	}
	// The same batch again, as after a crash between the commit and the
	// XACK: nothing is counted twice.
	write(batch, false)
	if diff := cmp.Diff(want, read(party)); diff != "" {
		t.Fatalf("after a redelivery (-want +got):\n%s", diff)
	}
	// Part of it again with newer events in one batch: only the newer count.
	newer := counted(party, "🎉", s.Add(950*time.Millisecond), fmt.Sprintf("%d-0", ms+950))
	write(append([]event.Event{newer}, batch[1:]...), false)
	want["cheer 🎉 10:00:00"] = 4
	if diff := cmp.Diff(want, read(party)); diff != "" {
		t.Fatalf("after an overlapping batch (-want +got):\n%s", diff)
	}
	// Events replayed from the dead-letter list come from before the
	// rows' positions: counted, once however often the replay runs.
	replay := []event.Event{
		counted(party, "🎉", s.Add(50*time.Millisecond), fmt.Sprintf("%d-0", ms+50)),
		counted(party, "😂", s.Add(60*time.Millisecond), fmt.Sprintf("%d-0", ms+60)),
	}
	write(replay, true)
	write(replay, true)
	want["cheer 🎉 10:00:00"], want["cheer 😂 10:00:00"] = 5, 1
	if diff := cmp.Diff(want, read(party)); diff != "" {
		t.Fatalf("after a replay run twice (-want +got):\n%s", diff)
	}
	// And a later event after the replay is still counted.
	write([]event.Event{counted(party, "🎉", s.Add(990*time.Millisecond), fmt.Sprintf("%d-0", ms+990))}, false)
	want["cheer 🎉 10:00:00"] = 6
	if diff := cmp.Diff(want, read(party)); diff != "" {
		t.Fatalf("after a replay and a newer event (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int64{"cheer 🎉 10:00:00": 1}, read(other)); diff != "" {
		t.Fatalf("the other party (-want +got):\n%s", diff)
	}
}
