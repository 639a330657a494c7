package history

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/watchparty/watchparty/pkg/event"
	"github.com/watchparty/watchparty/pkg/stream"
	"github.com/watchparty/watchparty/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// archive is PostgreSQL as far as history needs it: the flushed chats.
type archive struct {
	chats []event.Event // stream order
	reads int
}

func (a *archive) Before(_ context.Context, _ uuid.UUID, before event.Position, n int, _ []uuid.UUID) ([]event.Event, error) {
	a.reads++
	var out []event.Event
	for i := len(a.chats) - 1; i >= 0 && len(out) < n; i-- {
		if p, _ := event.ParsePosition(a.chats[i].StreamID); p.Less(before) {
			out = append(out, a.chats[i])
		}
	}
	return out, nil
}

func texts(es []event.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Text
	}
	return out
}

// TestBeforeMergesStreamAndArchive: chats 0..11 with a like between each;
// 0..7 were flushed and 0..5 trimmed, so 6 and 7 are in both stores. Pages
// come back in stream order, each chat once, whatever store it is read from.
func TestBeforeMergesStreamAndArchive(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.SharedRedisClient(t)
	app := stream.NewAppender(rdb, stream.AppenderConfig{})
	actx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = app.Run(actx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	party := uuid.New()
	keys := stream.KeysFor(party)
	var chats []event.Event
	for i := range 12 {
		for _, typ := range []event.Type{event.Chat, event.Join} {
			e := event.Event{Type: typ, ID: uuid.New(), PartyID: party, UserID: fmt.Sprint("u", i),
				CreatedAt: event.Millis(time.Now())}
			if typ == event.Chat {
				e.Text = fmt.Sprint("chat ", i)
			}
			res, err := app.Append(ctx, e, false)
			if err != nil || res.Status != stream.Stored {
				t.Fatalf("append: %+v %v", res, err)
			}
			e.StreamID = res.StreamID
			if typ == event.Chat {
				chats = append(chats, e)
			}
		}
	}
	// Trim chats 0..5 and the join after each (a prefix, as the flusher does).
	if err := rdb.XTrimMinID(ctx, keys.Stream, chats[6].StreamID).Err(); err != nil {
		t.Fatal(err)
	}
	arch := &archive{chats: slices.Clone(chats[:8])}
	r := NewReader(rdb, arch)

	tests := []struct {
		name   string
		before string
		n      int
		want   []string
		more   bool
	}{
		{"newest, all from the stream", "", 3, []string{"chat 9", "chat 10", "chat 11"}, true},
		{"across the trim", chats[9].StreamID, 5, []string{"chat 4", "chat 5", "chat 6", "chat 7", "chat 8"}, true},
		{"the rest, from the archive", chats[4].StreamID, 10, []string{"chat 0", "chat 1", "chat 2", "chat 3"}, false},
		{"exactly the rest", chats[4].StreamID, 4, []string{"chat 0", "chat 1", "chat 2", "chat 3"}, false},
		{"everything", "", 200, texts(chats), false},
		{"before the first", chats[0].StreamID, 5, []string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, more, err := r.Before(ctx, party, tt.before, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, texts(got)); diff != "" || more != tt.more {
				t.Errorf("more %v, want %v; chats (-want +got):\n%s", more, tt.more, diff)
			}
			for _, e := range got {
				if e.StreamID == "" || e.Type != event.Chat {
					t.Errorf("bad chat %+v", e)
				}
			}
		})
	}

	reads := arch.reads
	if _, _, err := r.Before(ctx, party, "", 5); err != nil || arch.reads != reads {
		t.Errorf("a page the stream holds whole read the archive (%d reads, %v)", arch.reads-reads, err)
	}
}

func TestBeforeRefusesBadInput(t *testing.T) {
	r := NewReader(nil, &archive{})
	for _, tt := range []struct {
		before string
		n      int
		want   string
	}{
		{"", 0, "out of 1..200"},
		{"", 201, "out of 1..200"},
		{"soon", 10, `bad stream id "soon"`},
	} {
		if _, _, err := r.Before(context.Background(), uuid.New(), tt.before, tt.n); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Before(%q, %d) = %v, want an error with %q", tt.before, tt.n, err, tt.want)
		}
	}
}
