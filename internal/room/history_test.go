package room

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/history"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// frames returns chats from .. to-1, each frame its number, each id its
// number in the last byte.
func frames(from, to int) []chatFrame {
	var out []chatFrame
	for i := from; i < to; i++ {
		out = append(out, chatFrame{id: idOf(i), frame: []byte(fmt.Sprint(i))})
	}
	return out
}

func idOf(i int) uuid.UUID { return uuid.UUID{15: byte(i)} }

func strs[T ~[]byte](fs []T) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}

func frameStrs(fs []chatFrame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f.frame)
	}
	return out
}

func TestChatRingKeepsTheLast(t *testing.T) {
	tests := []struct {
		name     string
		max, add int
		want     []string
	}{
		{"off", 0, 5, []string{}},
		{"not full", 4, 3, []string{"0", "1", "2"}},
		{"exactly full", 4, 4, []string{"0", "1", "2", "3"}},
		{"wrapped", 4, 10, []string{"6", "7", "8", "9"}},
		{"one", 1, 3, []string{"2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := chatRing{max: tt.max}
			for _, f := range frames(0, tt.add) {
				r.add(f)
			}
			if diff := cmp.Diff(tt.want, frameStrs(r.frames())); diff != "" {
				t.Errorf("frames (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHistoryOfJoinsEarlyAndRecent(t *testing.T) {
	tests := []struct {
		name          string
		early, recent []chatFrame
		n             int
		deleted       []int
		want          []string
	}{
		{"nothing", nil, nil, 3, nil, []string{}},
		{"early only", frames(0, 5), nil, 3, nil, []string{"2", "3", "4"}},
		{"recent only", nil, frames(5, 7), 3, nil, []string{"5", "6"}},
		{"both, cut in early", frames(0, 5), frames(5, 7), 4, nil, []string{"3", "4", "5", "6"}},
		{"recent fills it", frames(0, 5), frames(5, 9), 3, nil, []string{"6", "7", "8"}},
		{"deleted left out", frames(0, 5), frames(5, 7), 4, []int{4, 6}, []string{"1", "2", "3", "5"}},
		{"all deleted", frames(0, 2), nil, 4, []int{0, 1}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gone := forgotten{deleted: map[uuid.UUID]bool{}}
			for _, i := range tt.deleted {
				gone.deleted[idOf(i)] = true
			}
			got := historyOf(tt.early, tt.recent, tt.n, gone)
			if diff := cmp.Diff(tt.want, strs(got)); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHistoryOfLeavesOutErasedUsersUntilTheErasure(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	chat := func(i int, user string, at time.Time) chatFrame {
		return chatFrame{id: idOf(i), user: user, at: at, frame: []byte(fmt.Sprint(i))}
	}
	early := []chatFrame{chat(0, "alice", t0), chat(1, "bob", t0)}
	recent := []chatFrame{chat(2, "alice", t0.Add(time.Second)), chat(3, "alice", t0.Add(3*time.Second))}
	gone := forgotten{erased: map[string]time.Time{"alice": t0.Add(time.Second)}}
	if got := strs(historyOf(early, recent, 10, gone)); !slices.Equal(got, []string{"1", "3"}) {
		t.Fatalf("history %q, want bob's chat and alice's chat after the erasure", got)
	}
}

// noArchive is PostgreSQL before any flush.
type noArchive struct{}

func (noArchive) Before(context.Context, uuid.UUID, event.Position, int, []uuid.UUID) ([]event.Event, error) {
	return nil, nil
}

// entriesRead counts the stream entries a Redis client's range reads return.
type entriesRead struct{ n int }

func (c *entriesRead) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *entriesRead) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if r, ok := cmd.(*redis.XMessageSliceCmd); ok {
			c.n += len(r.Val())
		}
		return err
	}
}

func (c *entriesRead) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestEarlyChatsLookAtABoundedNumberOfEntries: a party's chat, then 20,000
// joins. The welcome's history of a hub starting there looks at no more
// than history.MaxScan entries, so it does not reach the chat.
func TestEarlyChatsLookAtABoundedNumberOfEntries(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.SharedRedisClient(t)
	party := uuid.New()
	pipe := rdb.Pipeline()
	var last *redis.StringCmd
	for i := range 20_001 {
		e := event.Event{Type: event.Join, ID: uuid.New(), PartyID: party, UserID: "u", CreatedAt: event.Millis(time.Now())}
		if i == 0 {
			e.Type, e.Text = event.Chat, "early"
		}
		payload, err := event.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		last = pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream.KeysFor(party).Stream, Values: []any{"e", payload}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	read := &entriesRead{}
	rdb.AddHook(read)
	h := &Hub{party: party, startID: last.Val()}

	frames, err := h.earlyChats(ctx, history.NewReader(rdb, noArchive{}), 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 0 || read.n > history.MaxScan {
		t.Fatalf("history %q after looking at %d entries; want none, looking at no more than %d",
			frameStrs(frames), read.n, history.MaxScan)
	}
}

// TestErasureIsJudgedByStreamTime: a chat whose gateway clock ran behind
// (created_at before the erasure) but that Redis stored after it is kept;
// one stored before it is left out, whatever its created_at says.
func TestErasureIsJudgedByStreamTime(t *testing.T) {
	erasedAt := time.UnixMilli(1_800_000_010_000).UTC()
	gone := forgotten{erased: map[string]time.Time{"alice": erasedAt}}
	late := chatFrameOf(event.Event{ID: idOf(1), UserID: "alice", CreatedAt: erasedAt.Add(-time.Minute),
		StreamID: "1800000011000-0"}, nil)
	early := chatFrameOf(event.Event{ID: idOf(2), UserID: "alice", CreatedAt: erasedAt.Add(time.Minute),
		StreamID: "1800000009000-0"}, nil)
	if gone.has(late) {
		t.Errorf("a chat stored after the erasure is left out")
	}
	if !gone.has(early) {
		t.Errorf("a chat stored before the erasure is kept")
	}
}
