package room

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/auth"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/presence"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// running starts part.Run until the test ends.
func running(t *testing.T, run func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func newRooms(t *testing.T) (*Rooms, redis.UniversalClient, *stream.Appender) {
	t.Helper()
	rdb := testenv.SharedRedisClient(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app := stream.NewAppender(rdb, stream.AppenderConfig{})
	running(t, app.Run)
	feed := stream.NewFeed(rdb, log)
	running(t, feed.Run)
	return NewRooms(rdb, feed, presence.New(rdb), log, nil, History{}), rdb, app
}

// TestNewHubSeesPlaybackAppendedWhileItStarts: a seek appended while a pod
// starts following a party (after one read, before the other) is in the
// playback state its hub hands to new viewers.
func TestNewHubSeesPlaybackAppendedWhileItStarts(t *testing.T) {
	r, _, app := newRooms(t)
	party := uuid.New()
	ctx := context.Background()
	pos := int64(30000)
	var seekID string
	r.beforeFollow = func() {
		e := event.Event{Type: event.Seek, ID: uuid.New(), PartyID: party, UserID: "host",
			CreatedAt: event.Millis(time.Now()), PositionMS: &pos}
		res, err := app.Append(ctx, e, false)
		if err != nil || res.Status != stream.Stored {
			t.Errorf("append seek: %+v %v", res, err)
		}
		seekID = res.StreamID
	}
	h, err := r.hub(ctx, party)
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	got, lastID := h.playback, h.lastID
	h.mu.Unlock()
	if got.PositionMS != pos || got.UpdatedAt == nil {
		t.Fatalf("hub playback %+v (last id %s), want the seek to %d (stream id %s)", got, lastID, pos, seekID)
	}
	if lastID != seekID {
		t.Fatalf("hub last id %s, want the seek's %s", lastID, seekID)
	}
}

// TestLeavingDoesNotHoldUpOtherParties: while the last viewer of one party
// leaves and the pod stops following it (a Redis round trip), viewers of
// other parties are not held up.
func TestLeavingDoesNotHoldUpOtherParties(t *testing.T) {
	r, _, _ := newRooms(t)
	ctx := context.Background()
	quiet, busy := uuid.New(), uuid.New()
	unfollowing, release := make(chan struct{}), make(chan struct{})
	feedUnfollow := r.unfollow
	r.unfollow = func(p uuid.UUID) {
		close(unfollowing)
		<-release
		feedUnfollow(p)
	}
	v := NewViewer(nil, quiet, auth.Identity{UserID: "v"}, 10, 11, nil)
	if _, err := r.addViewer(ctx, v, false, func(welcomeState, []chatFrame, bool) {}); err != nil {
		t.Fatal(err)
	}
	left := make(chan struct{})
	go func() { r.Leave(ctx, v); close(left) }()
	<-unfollowing

	joined := make(chan error, 1)
	go func() {
		w := NewViewer(nil, busy, auth.Identity{UserID: "w"}, 10, 11, nil)
		_, err := r.addViewer(ctx, w, false, func(welcomeState, []chatFrame, bool) {})
		joined <- err
	}()
	select {
	case err := <-joined:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("a join to another party waited for the unfollow")
	}
	close(release)
	<-left
	r.mu.Lock()
	h := r.hubs[busy]
	r.mu.Unlock()
	if h == nil {
		t.Fatal("busy party has no hub here")
	}
	if n := h.Len(); n != 1 {
		t.Fatalf("busy party has %d viewers here, want 1", n)
	}
}
