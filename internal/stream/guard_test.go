package stream_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// The append script guards the party in the same step as the append: it
// refuses a banned user's events, a moderation action its user may no
// longer take, a user over its rate class on any gateway, and deletes
// beyond the party's cap. These tests run it through appenders on the
// shared Redis.

func runAppender(t *testing.T, c redis.UniversalClient, cfg stream.AppenderConfig) *stream.Appender {
	t.Helper()
	a := stream.NewAppender(c, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

func moderationEvent(party uuid.UUID, actor string, t event.Type, target string) event.Event {
	e := event.Event{Type: t, ID: uuid.New(), PartyID: party, UserID: actor, CreatedAt: event.Millis(time.Now())}
	if t == event.Delete {
		e.TargetEvent = uuid.New()
	} else {
		e.Target = target
	}
	if t == event.Mute {
		e.Until = e.CreatedAt.Add(time.Minute)
	}
	return e
}

func mustStatus(t *testing.T, what string, res stream.Result, err error, want stream.Status) stream.Result {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if res.Status != want {
		t.Fatalf("%s: status %d (%+v), want %d", what, res.Status, res, want)
	}
	return res
}

// TestBannedUserCannotAppendButLeave: a user in the party's bans set (a
// ban its gateway has not delivered yet) stores nothing more but its leave.
func TestBannedUserCannotAppendButLeave(t *testing.T) {
	c := newClient(t)
	a := runAppender(t, c, stream.AppenderConfig{})
	ctx, party := context.Background(), uuid.New()
	if err := c.SAdd(ctx, rdb.KeysFor(party).Bans, "troll").Err(); err != nil {
		t.Fatal(err)
	}
	pos := int64(1000)
	for _, e := range []event.Event{
		chat(party, "troll", "c1"),
		{Type: event.Like, ID: uuid.New(), PartyID: party, UserID: "troll", CreatedAt: event.Millis(time.Now())},
		{Type: event.Seek, ID: uuid.New(), PartyID: party, UserID: "troll", CreatedAt: event.Millis(time.Now()), PositionMS: &pos},
		{Type: event.Join, ID: uuid.New(), PartyID: party, UserID: "troll", CreatedAt: event.Millis(time.Now())},
	} {
		res, err := a.Append(ctx, e, false)
		mustStatus(t, string(e.Type)+" of a banned user", res, err, stream.Banned)
	}
	res, err := a.Append(ctx, event.Event{Type: event.Leave, ID: uuid.New(), PartyID: party, UserID: "troll",
		CreatedAt: event.Millis(time.Now())}, false)
	mustStatus(t, "leave of a banned user", res, err, stream.Stored)
	if n := c.XLen(ctx, rdb.KeysFor(party).Stream).Val(); n != 1 {
		t.Fatalf("stream holds %d entries; want the leave only", n)
	}
	res, err = a.Append(ctx, chat(party, "fan", "c1"), false)
	mustStatus(t, "chat of another user", res, err, stream.Stored)
}

// TestModerationRolesAreCheckedInTheAppend: the roles are read in the same
// step as the append, so a moderator demoted after the gateway's check
// takes no action, the host's own actions stay the host's, and a banned
// user is not appointed.
func TestModerationRolesAreCheckedInTheAppend(t *testing.T) {
	c := newClient(t)
	a := runAppender(t, c, stream.AppenderConfig{})
	ctx, party := context.Background(), uuid.New()
	k := rdb.KeysFor(party)
	act := func(actor string, typ event.Type, target string) (stream.Result, error) {
		return a.AppendModeration(ctx, moderationEvent(party, actor, typ, target), false, "host")
	}

	res, err := act("host", event.ModeratorAdd, "mod")
	mustStatus(t, "host appoints mod", res, err, stream.Stored)
	res, err = act("mod", event.Mute, "viewer")
	mustStatus(t, "mod mutes a viewer", res, err, stream.Stored)
	res, err = act("mod", event.ModeratorAdd, "viewer")
	mustStatus(t, "mod appoints a moderator", res, err, stream.Forbidden)
	res, err = act("host", event.ModeratorAdd, "mod2")
	mustStatus(t, "host appoints mod2", res, err, stream.Stored)
	res, err = act("mod", event.Kick, "mod2")
	mustStatus(t, "mod kicks another moderator", res, err, stream.Forbidden)

	// Demoted between the gateway's check and the append.
	if err := c.SRem(ctx, k.Moderators, "mod").Err(); err != nil {
		t.Fatal(err)
	}
	res, err = act("mod", event.Delete, "")
	res = mustStatus(t, "a demoted moderator deletes", res, err, stream.Forbidden)
	if res.Reason == "" {
		t.Errorf("forbidden without a reason")
	}
	res, err = act("stranger", event.Ban, "viewer")
	mustStatus(t, "a viewer bans", res, err, stream.Forbidden)

	res, err = act("host", event.Ban, "viewer")
	mustStatus(t, "host bans viewer", res, err, stream.Stored)
	res, err = act("host", event.ModeratorAdd, "viewer")
	mustStatus(t, "host appoints a banned user", res, err, stream.Forbidden)
	if ok, _ := c.SIsMember(ctx, k.Moderators, "viewer").Result(); ok {
		t.Fatalf("a banned user became a moderator")
	}
}

// TestRateIsSharedAcrossGateways: two appenders (two gateways) take tokens
// of one bucket per user, party and class.
func TestRateIsSharedAcrossGateways(t *testing.T) {
	c := newClient(t)
	rates := map[event.Type]rdb.Rate{event.Chat: {Class: "chat", Every: time.Hour, Burst: 3}}
	one := runAppender(t, c, stream.AppenderConfig{Rates: rates})
	two := runAppender(t, c, stream.AppenderConfig{Rates: rates})
	ctx, party := context.Background(), uuid.New()
	for i, a := range []*stream.Appender{one, two, one} {
		res, err := a.Append(ctx, chat(party, "bob", "c"+string(rune('a'+i))), true)
		mustStatus(t, "chat within the burst", res, err, stream.Stored)
	}
	res, err := two.Append(ctx, chat(party, "bob", "c4"), true)
	res = mustStatus(t, "fourth chat over a burst of 3, on the other gateway", res, err, stream.RateLimited)
	if res.RetryAfter <= 0 || res.RetryAfter > 3*time.Hour {
		t.Errorf("retry after %v; want within the window of 3 hours", res.RetryAfter)
	}
	// A resend of a stored chat is answered, not limited.
	res, err = two.Append(ctx, chat(party, "bob", "ca"), true)
	mustStatus(t, "resend of the first chat", res, err, stream.Duplicate)
	// Other users, parties and classes have buckets of their own.
	res, err = two.Append(ctx, chat(party, "carol", "c1"), true)
	mustStatus(t, "another user's chat", res, err, stream.Stored)
	res, err = two.Append(ctx, chat(uuid.New(), "bob", "c1"), true)
	mustStatus(t, "bob's chat in another party", res, err, stream.Stored)
	res, err = two.Append(ctx, event.Event{Type: event.Like, ID: uuid.New(), PartyID: party, UserID: "bob",
		CreatedAt: event.Millis(time.Now())}, false)
	mustStatus(t, "bob's like", res, err, stream.Stored)
}

// TestRateRefillsOverTime: a limit of 2 every 100 ms refuses a third event
// at once and takes one again once its window has passed.
func TestRateRefillsOverTime(t *testing.T) {
	c := newClient(t)
	a := runAppender(t, c, stream.AppenderConfig{Rates: map[event.Type]rdb.Rate{
		event.Chat: {Class: "chat", Every: 100 * time.Millisecond, Burst: 2}}})
	ctx, party := context.Background(), uuid.New()
	for i := range 2 {
		res, err := a.Append(ctx, chat(party, "bob", ""), false)
		mustStatus(t, "chat within the burst "+string(rune('0'+i)), res, err, stream.Stored)
	}
	res, err := a.Append(ctx, chat(party, "bob", ""), false)
	mustStatus(t, "third chat at once", res, err, stream.RateLimited)
	testenv.Eventually(t, 5*time.Second, "a token back after the interval", func() bool {
		res, err := a.Append(ctx, chat(party, "bob", ""), false)
		return err == nil && res.Status == stream.Stored
	})
}

// TestDeletesAreCapped: a party's deletes hide at most MaxDeleted chats;
// deleting one already hidden again is still taken.
func TestDeletesAreCapped(t *testing.T) {
	c := newClient(t)
	a := runAppender(t, c, stream.AppenderConfig{MaxDeleted: 2})
	ctx, party := context.Background(), uuid.New()
	first := moderationEvent(party, "host", event.Delete, "")
	for i, e := range []event.Event{first, moderationEvent(party, "host", event.Delete, "")} {
		res, err := a.AppendModeration(ctx, e, false, "host")
		mustStatus(t, "delete "+string(rune('1'+i)), res, err, stream.Stored)
	}
	res, err := a.AppendModeration(ctx, moderationEvent(party, "host", event.Delete, ""), false, "host")
	mustStatus(t, "a third chat deleted", res, err, stream.DeletedFull)
	again := first
	again.ID = uuid.New()
	res, err = a.AppendModeration(ctx, again, false, "host")
	mustStatus(t, "the first chat deleted again", res, err, stream.Stored)
	if n := c.SCard(ctx, rdb.KeysFor(party).Deleted).Val(); n != 2 {
		t.Fatalf("deleted set holds %d ids; want 2", n)
	}
}
