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
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
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
		next   string
	}{
		{"newest, all from the stream", "", 3, []string{"chat 9", "chat 10", "chat 11"}, chats[9].StreamID},
		{"across the trim", chats[9].StreamID, 5, []string{"chat 4", "chat 5", "chat 6", "chat 7", "chat 8"}, chats[4].StreamID},
		{"the rest, from the archive", chats[4].StreamID, 10, []string{"chat 0", "chat 1", "chat 2", "chat 3"}, ""},
		{"exactly the rest", chats[4].StreamID, 4, []string{"chat 0", "chat 1", "chat 2", "chat 3"}, ""},
		{"everything", "", 200, texts(chats), ""},
		{"before the first", chats[0].StreamID, 5, []string{}, ""},
		{"before the first possible id", "0-0", 5, []string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next, err := r.Before(ctx, party, tt.before, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, texts(got)); diff != "" || next != tt.next {
				t.Errorf("next %q, want %q; chats (-want +got):\n%s", next, tt.next, diff)
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

// commands counts the commands a Redis client sends, by name.
type commands map[string]int

func (c commands) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c commands) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c[cmd.Name()]++
		return next(ctx, cmd)
	}
}

func (c commands) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			c[cmd.Name()]++
		}
		return next(ctx, cmds)
	}
}

// addEntries appends n events of type typ to party's stream directly and
// returns their stream ids; a chat's text is text and its number.
func addEntries(t *testing.T, rdb *redis.Client, party uuid.UUID, typ event.Type, text string, n int) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for start := 0; start < n; start += 1000 {
		pipe := rdb.Pipeline()
		var cmds []*redis.StringCmd
		for i := start; i < min(n, start+1000); i++ {
			e := event.Event{Type: typ, ID: uuid.New(), PartyID: party, UserID: "u", CreatedAt: event.Millis(time.Now())}
			if typ == event.Chat {
				e.Text = fmt.Sprint(text, " ", i)
			}
			payload, err := event.Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream.KeysFor(party).Stream, Values: []any{"e", payload}}))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range cmds {
			ids = append(ids, c.Val())
		}
	}
	return ids
}

// TestHistoryPageLooksAtMostMaxScanEntries: a chat, 19,000 joins, a chat and
// 1,000 joins. A read of 5 chats looks at MaxScan entries, in
// MaxScan/streamPage round trips, and returns the one chat among them with
// the oldest id it looked at as the next cursor; paging on, each read as
// bounded, reaches the first chat, and the stream's end.
func TestHistoryPageLooksAtMostMaxScanEntries(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.SharedRedisClient(t)
	party := uuid.New()
	ids := slices.Concat(
		addEntries(t, rdb, party, event.Chat, "first", 1),
		addEntries(t, rdb, party, event.Join, "", 19_000),
		addEntries(t, rdb, party, event.Chat, "second", 1),
		addEntries(t, rdb, party, event.Join, "", 1_000))
	oldestLooked := ids[max(0, len(ids)-MaxScan)]
	sent := commands{}
	rdb.AddHook(sent)
	arch := &archive{}
	r := NewReader(rdb, arch)

	got, next, err := r.Before(ctx, party, "", 5)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"second 0"}, texts(got)); diff != "" || next != oldestLooked {
		t.Fatalf("next %q, want %q, the oldest entry looked at; chats (-want +got):\n%s", next, oldestLooked, diff)
	}
	if n := sent["xrevrange"]; n != MaxScan/streamPage || arch.reads != 0 {
		t.Fatalf("%d stream reads and %d archive reads, want %d and none", n, arch.reads, MaxScan/streamPage)
	}

	var pages [][]string
	for next != "" {
		clear(sent)
		if got, next, err = r.Before(ctx, party, next, 5); err != nil {
			t.Fatal(err)
		}
		if sent["xrevrange"] > MaxScan/streamPage {
			t.Fatalf("a read before %s made %d stream reads, want at most %d", next, sent["xrevrange"], MaxScan/streamPage)
		}
		pages = append(pages, texts(got))
	}
	if len(pages) != 10 || !slices.Equal(pages[9], []string{"first 0"}) || slices.ContainsFunc(pages[:9], func(p []string) bool { return len(p) > 0 }) {
		t.Fatalf("pages after the first: %q, want 9 empty then the first chat", pages)
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
