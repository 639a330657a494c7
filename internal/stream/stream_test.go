package stream_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newClient(t *testing.T) redis.UniversalClient { return testenv.SharedRedisClient(t) }

func startAppender(t *testing.T, rdb redis.UniversalClient, maxBuffered int64) *stream.Appender {
	t.Helper()
	a := stream.NewAppender(rdb, stream.AppenderConfig{MaxBuffered: maxBuffered})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

func chat(party uuid.UUID, user, clientID string) event.Event {
	return event.Event{Type: event.Chat, ID: event.NewID(party, user, clientID), PartyID: party, UserID: user,
		CreatedAt: event.Millis(time.Now()), Text: "hello"}
}

func TestAppendOutcomes(t *testing.T) {
	rdb := newClient(t)
	a := startAppender(t, rdb, 0)
	ctx := context.Background()
	party := uuid.New()

	first, err := a.Append(ctx, chat(party, "u", "c1"), true)
	if err != nil || first.Status != stream.Stored {
		t.Fatalf("first append: %+v, %v", first, err)
	}
	again, err := a.Append(ctx, chat(party, "u", "c1"), true)
	if err != nil || again.Status != stream.Duplicate || again.StreamID != first.StreamID {
		t.Fatalf("resend: %+v, %v; want Duplicate of %s", again, err, first.StreamID)
	}
	like := event.Event{Type: event.Like, ID: uuid.New(), PartyID: party, UserID: "u", CreatedAt: time.Now()}
	if r, _ := a.Append(ctx, like, false); r.Status != stream.Stored || r.Likes != 1 {
		t.Fatalf("first like: %+v", r)
	}
	like.ID = uuid.New()
	if r, _ := a.Append(ctx, like, false); r.Status != stream.AlreadyLiked || r.Likes != 1 {
		t.Fatalf("second like of the same user: %+v", r)
	}
	if n := rdb.XLen(ctx, stream.KeysFor(party).Stream).Val(); n != 2 {
		t.Fatalf("stream holds %d entries, want 2", n)
	}
	if ok, _ := rdb.SIsMember(ctx, stream.RegistryKey, party.String()).Result(); !ok {
		t.Fatal("party not registered for flushing by its write")
	}
	rdb.Set(ctx, stream.KeysFor(party).Ended, "1", 0)
	if r, _ := a.Append(ctx, chat(party, "u", "c2"), true); r.Status != stream.Closed {
		t.Fatalf("append to a closed party: %+v", r)
	}
}

func TestAppendRefusesAFullParty(t *testing.T) {
	rdb := newClient(t)
	a := startAppender(t, rdb, 3)
	ctx := context.Background()
	party := uuid.New()
	for i := range 3 {
		if r, err := a.Append(ctx, chat(party, "u", fmt.Sprint(i)), true); err != nil || r.Status != stream.Stored {
			t.Fatalf("append %d: %+v %v", i, r, err)
		}
	}
	if r, _ := a.Append(ctx, chat(party, "u", "x"), true); r.Status != stream.Full {
		t.Fatalf("append over the limit: %+v", r)
	}
	// Once the flusher has acknowledged the backlog, the party takes events again.
	c := stream.NewConsumer(rdb, "t")
	if err := c.EnsureGroup(ctx, party); err != nil {
		t.Fatal(err)
	}
	entries, err := c.ReadNew(ctx, party, 10)
	if err != nil || len(entries) != 3 {
		t.Fatalf("read %d entries, %v", len(entries), err)
	}
	ids := []string{entries[0].ID, entries[1].ID, entries[2].ID}
	if err := c.Ack(ctx, party, ids); err != nil {
		t.Fatal(err)
	}
	if r, _ := a.Append(ctx, chat(party, "u", "x"), true); r.Status != stream.Stored {
		t.Fatalf("append after the backlog was flushed: %+v", r)
	}
}

// TestTrimKeepsEverythingUnacknowledged: Redis trims regardless of
// acknowledgement, so Trim must stop below the oldest pending entry and
// never touch entries not yet delivered.
func TestTrimKeepsEverythingUnacknowledged(t *testing.T) {
	rdb := newClient(t)
	a := startAppender(t, rdb, 0)
	ctx := context.Background()
	party := uuid.New()
	for i := range 300 {
		if _, err := a.Append(ctx, chat(party, "u", fmt.Sprint(i)), true); err != nil {
			t.Fatal(err)
		}
	}
	c := stream.NewConsumer(rdb, "t")
	if err := c.EnsureGroup(ctx, party); err != nil {
		t.Fatal(err)
	}
	read, err := c.ReadNew(ctx, party, 200) // 100 stay undelivered
	if err != nil {
		t.Fatal(err)
	}
	var acked []string
	for i, e := range read {
		if i != 150 { // one entry in the middle stays pending
			acked = append(acked, e.ID)
		}
	}
	if err := c.Ack(ctx, party, acked); err != nil {
		t.Fatal(err)
	}
	if err := c.Trim(ctx, party, 0, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	key := stream.KeysFor(party).Stream
	if n, _ := rdb.XRange(ctx, key, read[150].ID, read[150].ID).Result(); len(n) != 1 {
		t.Fatal("trim deleted a pending entry")
	}
	rest, _ := rdb.XRangeN(ctx, key, "("+read[199].ID, "+", 1000).Result()
	if len(rest) != 100 {
		t.Fatalf("%d undelivered entries left after trim, want 100", len(rest))
	}
	if b, _ := c.Backlog(ctx, party); b != 101 {
		t.Fatalf("backlog %d, want 101", b)
	}
}

// TestFeedDeliversInOrderAndCatchesUp follows a party, then drops every
// client connection: the feed resubscribes and delivers what was appended
// meanwhile, in order, exactly once.
func TestFeedDeliversInOrderAndCatchesUp(t *testing.T) {
	rdb := newClient(t)
	a := startAppender(t, rdb, 0)
	ctx := context.Background()
	party := uuid.New()
	if _, err := a.Append(ctx, chat(party, "u", "before"), true); err != nil {
		t.Fatal(err)
	}
	feed := stream.NewFeed(rdb, slog.New(slog.NewTextHandler(io.Discard, nil)))
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = feed.Run(fctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	sink := &recorder{got: make(chan event.Event, 1000)}
	last, err := feed.Follow(ctx, party, sink)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	appendN := func(prefix string, n int) {
		for i := range n {
			r, err := a.Append(ctx, chat(party, "u", fmt.Sprintf("%s%d", prefix, i)), true)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, r.StreamID)
		}
	}
	appendN("a", 20)
	expect := func() {
		t.Helper()
		for len(want) > 0 {
			select {
			case e := <-sink.got:
				if e.StreamID != want[0] {
					t.Fatalf("delivered %s, want %s", e.StreamID, want[0])
				}
				want = want[1:]
			case <-time.After(5 * time.Second):
				t.Fatalf("%d entries not delivered", len(want))
			}
		}
	}
	expect()
	if sink.start != last || !stream.After(sink.first, last) {
		t.Fatalf("start %q, first delivery %q, Follow returned %q", sink.start, sink.first, last)
	}
	// Kill every connection of this client, including the pub/sub one.
	if err := rdb.ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	appendN("b", 20)
	expect()
	select {
	case e := <-sink.got:
		t.Fatalf("extra delivery %s", e.StreamID)
	default:
	}
}

type recorder struct {
	got      chan event.Event
	start    string
	playback stream.Playback
	first    string
}

func (r *recorder) Start(s stream.Snapshot)  { r.start, r.playback = s.LastID, s.Playback }
func (r *recorder) Ended()                   {}
func (r *recorder) Erased(string, time.Time) {}
func (r *recorder) Likes(int64)              {}
func (r *recorder) Deliver(e event.Event, _ int64) {
	if r.first == "" {
		r.first = e.StreamID
	}
	r.got <- e
}

// TestFeedSnapshotHoldsPlaybackAppendedWhileSubscribing: a seek appended
// after the feed subscribed and before it read where the stream stands is
// in the playback state handed to Start, and is not delivered again.
func TestFeedSnapshotHoldsPlaybackAppendedWhileSubscribing(t *testing.T) {
	rdb := newClient(t)
	a := startAppender(t, rdb, 0)
	ctx := context.Background()
	party := uuid.New()
	feed := stream.NewFeed(rdb, slog.New(slog.NewTextHandler(io.Discard, nil)))
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = feed.Run(fctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	pos := int64(42000)
	var seekID string
	stream.SetBeforeSnapshot(feed, func() {
		e := event.Event{Type: event.Seek, ID: uuid.New(), PartyID: party, UserID: "host",
			CreatedAt: event.Millis(time.Now()), PositionMS: &pos}
		res, err := a.Append(ctx, e, false)
		if err != nil {
			t.Error(err)
		}
		seekID = res.StreamID
	})
	sink := &recorder{got: make(chan event.Event, 10)}
	if _, err := feed.Follow(ctx, party, sink); err != nil {
		t.Fatal(err)
	}
	if sink.start != seekID || sink.playback.PositionMS != pos || sink.playback.UpdatedAt == "" {
		t.Fatalf("start at %s with %+v, want the seek %s to %d", sink.start, sink.playback, seekID, pos)
	}
	next, err := a.Append(ctx, chat(party, "u", "after"), true)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-sink.got:
		if e.StreamID != next.StreamID {
			t.Fatalf("first delivery %s (%s), want the chat %s", e.StreamID, e.Type, next.StreamID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("chat not delivered")
	}
}

// TestAppendAfterCleanupRegistersNothing: a pod that never saw the party
// end (a fresh appender: no cached registration) appends to a party that was
// closed and cleaned up; it is refused and leaves neither a key nor a
// registration behind.
func TestAppendAfterCleanupRegistersNothing(t *testing.T) {
	rdb := newClient(t)
	ctx := context.Background()
	party := uuid.New()
	if _, err := startAppender(t, rdb, 0).Append(ctx, chat(party, "u", "1"), true); err != nil {
		t.Fatal(err)
	}
	if err := stream.Close(ctx, rdb, party); err != nil {
		t.Fatal(err)
	}
	if err := stream.Remove(ctx, rdb, party); err != nil {
		t.Fatal(err)
	}
	res, err := startAppender(t, rdb, 0).Append(ctx, chat(party, "u", "2"), true)
	if err != nil || res.Status != stream.Closed {
		t.Fatalf("late append: %+v, %v; want Closed", res, err)
	}
	if ok, err := rdb.SIsMember(ctx, stream.RegistryKey, party.String()).Result(); err != nil || ok {
		t.Fatalf("party registered after cleanup: %v, %v", ok, err)
	}
	k := stream.KeysFor(party)
	if n, err := rdb.Exists(ctx, k.Data(time.Now())...).Result(); err != nil || n != 0 {
		t.Fatalf("%d keys of the party exist after cleanup (%v)", n, err)
	}
}
