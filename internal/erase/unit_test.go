package erase

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
)

// fakeBuffers is Redis in memory as an erasure sees it: party streams,
// like sets, announcements and a dead-letter list of one batch's events,
// raw entries and elements that are not batches.
type fakeBuffers struct {
	now       time.Time
	parties   []uuid.UUID
	streams   map[string][]rdb.EntryFields // by stream key, in id order
	likers    map[string]map[string]bool   // by like set key
	announced []string
	acked     []string
	pages     int

	dead     []event.Event
	deadRaw  []dlq.RawEntry // of the batch of party
	deadElem []string
	party    uuid.UUID // the party of the dead-lettered batch
}

func (f *fakeBuffers) Now(context.Context, string) (time.Time, error) { return f.now, nil }

func (f *fakeBuffers) Parties(context.Context) ([]uuid.UUID, error) { return f.parties, nil }

func (f *fakeBuffers) Range(_ context.Context, key, start string, n int) ([]rdb.EntryFields, error) {
	f.pages++
	after := event.Position{}
	inclusive := start == "-"
	if !inclusive {
		var err error
		if after, err = event.ParsePosition(start[1:]); err != nil {
			return nil, err
		}
	}
	var out []rdb.EntryFields
	for _, en := range f.streams[key] {
		p, _ := event.ParsePosition(en.ID)
		if (inclusive || after.Less(p)) && len(out) < n {
			out = append(out, en)
		}
	}
	return out, nil
}

func (f *fakeBuffers) AckAndDelete(_ context.Context, key, group string, ids []string) (int, error) {
	if group != stream.Group {
		return 0, fmt.Errorf("acked in group %q", group)
	}
	f.acked = append(f.acked, ids...)
	before := len(f.streams[key])
	f.streams[key] = slices.DeleteFunc(f.streams[key], func(en rdb.EntryFields) bool { return slices.Contains(ids, en.ID) })
	return before - len(f.streams[key]), nil
}

func (f *fakeBuffers) EraseLike(_ context.Context, k rdb.PartyKeys, user string) (bool, error) {
	was := f.likers[k.Likers][user]
	delete(f.likers[k.Likers], user)
	return was, nil
}

func (f *fakeBuffers) Announce(_ context.Context, k rdb.PartyKeys, msg string) error {
	f.announced = append(f.announced, k.Channel+" "+msg)
	return nil
}

func (f *fakeBuffers) RewriteDeadLetters(_ context.Context, edit dlq.Edit) (dlq.Rewritten, error) {
	var done dlq.Rewritten
	var kept []event.Event
	for _, e := range f.dead {
		if edit.Drop(e) {
			done.Events++
			continue
		}
		if changed, ok := edit.Change(e); ok {
			done.Changed++
			e = changed
		}
		kept = append(kept, e)
	}
	f.dead = kept
	before := len(f.deadRaw)
	f.deadRaw = slices.DeleteFunc(f.deadRaw, func(r dlq.RawEntry) bool { return edit.DropRaw(f.party.String(), r) })
	done.Events += before - len(f.deadRaw)
	before = len(f.deadElem)
	f.deadElem = slices.DeleteFunc(f.deadElem, edit.DropElement)
	done.Elements += before - len(f.deadElem)
	return done, nil
}

// ids of entries in stream order.
func (f *fakeBuffers) ids(key string) []string {
	var out []string
	for _, en := range f.streams[key] {
		out = append(out, en.ID)
	}
	return out
}

// TestUnitEraseBuffered: an erasure of alice until at removes from every
// live party's stream her entries up to at (events and entries that do not
// decode but name her), page after page, acknowledging them, but keeps her
// moderation actions and what came after at; it removes her like where no
// like of hers is left, and announces the erasure to each party. In the
// dead-letter list it drops her covered events, keeps her moderation
// actions unattributed, and drops raw entries and elements naming her.
func TestUnitEraseBuffered(t *testing.T) {
	at := time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC)
	p1, p2 := uuid.New(), uuid.New()
	k1, k2 := stream.KeysFor(p1), stream.KeysFor(p2)
	f := &fakeBuffers{now: at.Add(time.Second), parties: []uuid.UUID{p1, p2}, party: p1,
		streams: map[string][]rdb.EntryFields{},
		likers:  map[string]map[string]bool{k1.Likers: {"alice": true, "bob": true}, k2.Likers: {"alice": true}}}
	seq := 0
	add := func(party uuid.UUID, ms time.Duration, e event.Event) string {
		t.Helper()
		seq++
		id := fmt.Sprintf("%d-%d", at.Add(ms).UnixMilli(), seq)
		e.ID, e.PartyID, e.CreatedAt = uuid.New(), party, event.Millis(at.Add(ms))
		b, err := event.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		key := stream.KeysFor(party).Stream
		f.streams[key] = append(f.streams[key], rdb.EntryFields{ID: id, Fields: map[string]string{"e": string(b)}})
		return id
	}
	chat := func(user, text string) event.Event { return event.Event{Type: event.Chat, UserID: user, Text: text} }
	like := func(user string) event.Event { return event.Event{Type: event.Like, UserID: user} }

	aliceLike := add(p1, -5*time.Millisecond, like("alice"))
	seq++
	raw := rdb.EntryFields{ID: fmt.Sprintf("%d-%d", at.Add(-4*time.Millisecond).UnixMilli(), seq),
		Fields: map[string]string{"user_id": "alice", "e": "{damaged"}}
	f.streams[k1.Stream] = append(f.streams[k1.Stream], raw)
	aliceChat := add(p1, -3*time.Millisecond, chat("alice", "hi"))
	mute := add(p1, -2*time.Millisecond, event.Event{Type: event.Mute, UserID: "alice", Target: "bob",
		Until: at.Add(time.Hour)})
	bobChat := add(p1, -time.Millisecond, chat("bob", "hello"))
	var bobLikes []string
	for range stream.MaxPage + 5 { // her last covered entry is on the second page
		bobLikes = append(bobLikes, add(p1, 0, like("bob")))
	}
	lateChat := add(p1, 0, chat("alice", "at the erasure's time"))
	aliceLate := add(p1, time.Millisecond, chat("alice", "after"))
	p2Like := add(p2, time.Millisecond, like("alice")) // after at: kept, and so is her like

	f.dead = []event.Event{
		{Type: event.Chat, ID: uuid.New(), PartyID: p1, UserID: "alice", StreamID: aliceChat, Text: "hi"},
		{Type: event.Mute, ID: uuid.New(), PartyID: p1, UserID: "alice", StreamID: mute, Target: "bob"},
		{Type: event.Chat, ID: uuid.New(), PartyID: p1, UserID: "bob", StreamID: bobChat},
		{Type: event.Chat, ID: uuid.New(), PartyID: p1, UserID: "alice", StreamID: aliceLate},
	}
	f.deadRaw = []dlq.RawEntry{{StreamID: raw.ID, Fields: raw.Fields},
		{StreamID: bobChat, Fields: map[string]string{"user_id": "bob"}}}
	f.deadElem = []string{`{"user_id":"alice","party_id":"` + p1.String() + `"`, `{"user_id":"bob"`}

	e := store.Erasure{UserID: "alice", At: at}
	var rep Report
	if err := eraseBuffered(context.Background(), f, e, &rep, false); err != nil {
		t.Fatal(err)
	}

	wantDeleted := []string{aliceLike, raw.ID, aliceChat, lateChat}
	if diff := cmp.Diff(wantDeleted, f.acked); diff != "" {
		t.Errorf("acknowledged and deleted (-want +got):\n%s", diff)
	}
	wantP1 := append(append([]string{mute, bobChat}, bobLikes...), aliceLate)
	if diff := cmp.Diff(wantP1, f.ids(k1.Stream)); diff != "" {
		t.Errorf("party 1's stream (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{p2Like}, f.ids(k2.Stream)); diff != "" {
		t.Errorf("party 2's stream (-want +got):\n%s", diff)
	}
	wantLikers := map[string]map[string]bool{k1.Likers: {"bob": true}, k2.Likers: {"alice": true}}
	if diff := cmp.Diff(wantLikers, f.likers); diff != "" {
		t.Errorf("like sets (-want +got):\n%s", diff)
	}
	msg := rdb.ErasedMessage("alice", at)
	if diff := cmp.Diff([]string{k1.Channel + " " + msg, k2.Channel + " " + msg}, f.announced); diff != "" {
		t.Errorf("announced (-want +got):\n%s", diff)
	}
	wantRep := Report{StreamEntries: 4, Likes: 1, DLQ: dlq.Rewritten{Events: 2, Changed: 1, Elements: 1}}
	if diff := cmp.Diff(wantRep, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	var deadUsers []string
	for _, ev := range f.dead {
		deadUsers = append(deadUsers, string(ev.Type)+":"+ev.UserID)
	}
	if diff := cmp.Diff([]string{"mute:", "chat:bob", "chat:alice"}, deadUsers); diff != "" {
		t.Errorf("dead-lettered events left, type:user (-want +got):\n%s", diff)
	}
	if len(f.deadRaw) != 1 || len(f.deadElem) != 1 {
		t.Errorf("dead-lettered raw entries %v and elements %q left; want bob's one of each", f.deadRaw, f.deadElem)
	}
}
