package history

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/stream"
)

// fakeLive is a party's stream and deleted chats in memory: Live without
// Redis. It counts the entries it hands out.
type fakeLive struct {
	entries []stream.Entry // stream order
	deleted map[uuid.UUID]bool
	scanned int
}

func (f *fakeLive) Deleted(context.Context, uuid.UUID) (map[uuid.UUID]bool, error) {
	return f.deleted, nil
}

func (f *fakeLive) ReadBefore(_ context.Context, _ uuid.UUID, before string, n int) ([]stream.Entry, error) {
	bound := event.MaxPosition
	if before != "" {
		var err error
		if bound, err = event.ParsePosition(before); err != nil {
			return nil, err
		}
	}
	var out []stream.Entry
	for i := len(f.entries) - 1; i >= 0 && len(out) < n; i-- {
		if p, _ := event.ParsePosition(f.entries[i].ID); p.Less(bound) {
			out = append(out, f.entries[i])
		}
	}
	f.scanned += len(out)
	return out, nil
}

// add appends an entry of type typ (a chat when text is set) with the next
// stream id, and returns it as an event.
func (f *fakeLive) add(typ event.Type, text string) event.Event {
	id := fmt.Sprintf("%d-0", len(f.entries)+1000)
	e := event.Event{Type: typ, ID: uuid.New(), StreamID: id, Text: text, UserID: "u"}
	f.entries = append(f.entries, stream.Entry{ID: id, Event: e})
	return e
}

// TestUnitBeforeScansAtMostMaxScan: a stream whose newest MaxScan+300
// entries hold no chat yields an empty page whose cursor is the oldest
// entry read, after handing out no more than MaxScan entries, and without
// reading PostgreSQL; the next page goes on from there and finds the chat.
func TestUnitBeforeScansAtMostMaxScan(t *testing.T) {
	ctx := context.Background()
	live := &fakeLive{}
	chat := live.add(event.Chat, "the only chat")
	for range MaxScan + 300 {
		live.add(event.Like, "")
	}
	arch := &archive{}
	r := newReader(live, arch)

	got, next, err := r.Before(ctx, uuid.New(), "", 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 || live.scanned > MaxScan || arch.reads != 0 {
		t.Fatalf("first page: %d chats, %d entries scanned (max %d), %d archive reads; want none, at most MaxScan, none",
			len(got), live.scanned, MaxScan, arch.reads)
	}
	if want := live.entries[len(live.entries)-MaxScan].ID; next != want {
		t.Fatalf("next = %q, want the oldest entry read, %q", next, want)
	}
	live.scanned = 0
	got, next, err = r.Before(ctx, uuid.New(), next, 5)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{chat.Text}, texts(got)); diff != "" || next != "" || live.scanned > MaxScan {
		t.Fatalf("second page (-want +got):\n%s next %q, scanned %d", diff, next, live.scanned)
	}
}

// TestUnitBeforeSkipsAndMerges: deleted chats, other events and entries
// that do not decode are left out of the stream's part, and once the
// stream runs out the page is completed from the archive below the oldest
// id the stream covered, so a chat in both stores comes once, and next
// points at the oldest chat returned.
func TestUnitBeforeSkipsAndMerges(t *testing.T) {
	live := &fakeLive{deleted: map[uuid.UUID]bool{}}
	var all []event.Event
	for i := range 10 {
		all = append(all, live.add(event.Chat, fmt.Sprint("c", i)))
		live.add(event.Join, "")
	}
	live.entries = append(live.entries, stream.Entry{ID: "5000-0", Err: errors.New("undecodable")})
	live.deleted[all[7].ID] = true
	// The archive holds c0..c5; the stream was trimmed up to c5.
	arch := &archive{chats: all[:6]}
	live.entries = live.entries[5*2:]

	got, next, err := newReader(live, arch).Before(context.Background(), uuid.New(), "", 6)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"c3", "c4", "c5", "c6", "c8", "c9"}, texts(got)); diff != "" {
		t.Errorf("page (-want +got):\n%s", diff)
	}
	if next != all[3].StreamID {
		t.Errorf("next = %q, want c3's id %q", next, all[3].StreamID)
	}
	if arch.reads != 1 {
		t.Errorf("archive read %d times, want once", arch.reads)
	}
}
