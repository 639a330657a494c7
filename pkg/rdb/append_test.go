package rdb_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/pkg/rdb"
	"github.com/watchparty/watchparty/pkg/testenv"
)

// TestAppendCallAnswersEachEventAlone: one call of the append script
// carries events of several parties, runs them in order and answers each
// with its own result; an event Redis fails (a like whose likers key holds
// the wrong type) is answered alone, and the events after it are stored.
func TestAppendCallAnswersEachEventAlone(t *testing.T) {
	c := testenv.StartRedisClient(t)
	ctx := context.Background()
	if err := rdb.LoadAppend(ctx, c); err != nil {
		t.Fatal(err)
	}
	good, broken := uuid.New(), uuid.New()
	if err := c.Set(ctx, rdb.KeysFor(broken).Likers, "not a set", 0).Err(); err != nil {
		t.Fatal(err)
	}
	chat := func(party uuid.UUID, id string) rdb.AppendEvent {
		return rdb.AppendEvent{Party: party, AppendArgs: rdb.AppendArgs{Payload: []byte(id), EventID: id,
			Dedup: true, UserID: "u"}}
	}
	like := rdb.AppendEvent{Party: broken, AppendArgs: rdb.AppendArgs{Payload: []byte("like"), EventID: "like",
		Like: true, UserID: "u"}}
	events := []rdb.AppendEvent{chat(good, "a"), like, chat(broken, "b"), chat(good, "a"), chat(good, "c")}

	pipe := c.Pipeline()
	cmd := rdb.QueueAppends(ctx, pipe, time.Now(), rdb.AppendBatchLimits{}, events)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("the call failed as a whole: %v", err)
	}
	replies, err := rdb.AppendRepliesOf(cmd, len(events))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ok", "error", "ok", "duplicate", "ok"}
	for i, r := range replies {
		if r.Status != want[i] {
			t.Fatalf("event %d answered %+v, want %s", i, r, want[i])
		}
	}
	if !strings.Contains(replies[1].Reason, "WRONGTYPE") {
		t.Errorf("the failed like's reason %q does not carry Redis's error", replies[1].Reason)
	}
	if replies[3].StreamID != replies[0].StreamID {
		t.Errorf("the resent chat answered %s, its first entry is %s", replies[3].StreamID, replies[0].StreamID)
	}
	if n := c.XLen(ctx, rdb.KeysFor(good).Stream).Val(); n != 2 {
		t.Errorf("party %s holds %d entries, want its 2 chats", good, n)
	}
	if n := c.XLen(ctx, rdb.KeysFor(broken).Stream).Val(); n != 1 {
		t.Errorf("party %s holds %d entries, want the chat after the failed like", broken, n)
	}
}
