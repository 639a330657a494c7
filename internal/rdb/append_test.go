package rdb_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/testenv"
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

// TestClientIDGenerationsAlwaysExpire: the append script gives a party's
// client-id generation its time to live on the first write, checks it
// again every so often (a key that lost it gets it back within
// ttlCheckEvery writes), and on the first write after the script was
// loaded again, as after a Redis restart that lost the key.
func TestClientIDGenerationsAlwaysExpire(t *testing.T) {
	c := testenv.StartRedisClient(t)
	ctx := context.Background()
	if err := rdb.LoadAppend(ctx, c); err != nil {
		t.Fatal(err)
	}
	party := uuid.New()
	ids := rdb.KeysFor(party).IDsAt(time.Now())
	n := 0
	write := func() {
		t.Helper()
		n++
		e := rdb.AppendEvent{Party: party, AppendArgs: rdb.AppendArgs{Payload: []byte("x"),
			EventID: "e" + strconv.Itoa(n), Dedup: true, UserID: "u"}}
		pipe := c.Pipeline()
		cmd := rdb.QueueAppends(ctx, pipe, time.Now(), rdb.AppendBatchLimits{}, []rdb.AppendEvent{e})
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if r, err := rdb.AppendRepliesOf(cmd, 1); err != nil || r[0].Status != "ok" {
			t.Fatalf("write %d: %v %+v", n, err, r)
		}
	}
	expiring := func() bool { return c.TTL(ctx, ids).Val() > 0 }
	if write(); ids != rdb.KeysFor(party).IDsAt(time.Now()) {
		t.Skip("the generation changed during the test; run it again")
	}
	if !expiring() {
		t.Fatalf("%s has no time to live after its first write", ids)
	}
	c.Persist(ctx, ids)
	for i := 0; i < 64 && !expiring(); i++ {
		write()
	}
	if !expiring() {
		t.Fatalf("%s lost its time to live and 64 writes did not give it back", ids)
	}
	c.Del(ctx, ids)
	if err := rdb.LoadAppend(ctx, c); err != nil { // as after a Redis restart
		t.Fatal(err)
	}
	write()
	if !expiring() {
		t.Fatalf("%s, made again after the script was reloaded, has no time to live", ids)
	}
}

// TestAppendCallSeesItsOwnWrites: what one event of a call changes (a ban,
// a mute, the stream's length) holds for the party's next events in the
// same call, which a gateway fills with one connection's events in a row.
func TestAppendCallSeesItsOwnWrites(t *testing.T) {
	c := testenv.StartRedisClient(t)
	ctx := context.Background()
	if err := rdb.LoadAppend(ctx, c); err != nil {
		t.Fatal(err)
	}
	party, now := uuid.New(), time.Now()
	n := 0
	chat := func(user string) rdb.AppendEvent {
		n++
		id := "chat-" + strconv.Itoa(n)
		return rdb.AppendEvent{Party: party, AppendArgs: rdb.AppendArgs{Payload: []byte(id), EventID: id, Dedup: true,
			UserID: user, MuteCheck: true, Now: now, BanCheck: true}}
	}
	moderate := func(op, target string) rdb.AppendEvent {
		return rdb.AppendEvent{Party: party, AppendArgs: rdb.AppendArgs{Payload: []byte(op), EventID: op, UserID: "alice",
			BanCheck: true, Moderation: op, Target: target, Until: now.Add(time.Hour), Host: "alice"}}
	}
	events := []rdb.AppendEvent{chat("bob"), chat("carol"), moderate("ban", "bob"), chat("bob"),
		moderate("mute", "carol"), chat("carol"), chat("dave"), chat("dave"), moderate("unban", "bob"), chat("bob")}
	want := []string{"ok", "ok", "ok", "banned", "ok", "muted", "ok", "full", "full", "banned"}

	pipe := c.Pipeline()
	cmd := rdb.QueueAppends(ctx, pipe, now, rdb.AppendBatchLimits{MaxBuffered: 5}, events)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("the call failed as a whole: %v", err)
	}
	replies, err := rdb.AppendRepliesOf(cmd, len(events))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range replies {
		if r.Status != want[i] {
			t.Fatalf("event %d (%s) answered %+v, want %s", i, events[i].Payload, r, want[i])
		}
	}
	if n := c.XLen(ctx, rdb.KeysFor(party).Stream).Val(); n != 5 {
		t.Errorf("the stream holds %d entries, want 5", n)
	}

	// A later call reads the party again: bob's unban was refused (full),
	// so he is still banned; with room made, the next chat of dave is stored.
	if err := c.XTrimMaxLen(ctx, rdb.KeysFor(party).Stream, 0).Err(); err != nil {
		t.Fatal(err)
	}
	events = []rdb.AppendEvent{chat("bob"), chat("dave")}
	pipe = c.Pipeline()
	cmd = rdb.QueueAppends(ctx, pipe, now, rdb.AppendBatchLimits{MaxBuffered: 5}, events)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if replies, err = rdb.AppendRepliesOf(cmd, len(events)); err != nil {
		t.Fatal(err)
	}
	if replies[0].Status != "banned" || replies[1].Status != "ok" {
		t.Fatalf("the next call answered %+v; want bob banned and dave's chat stored", replies)
	}
}
