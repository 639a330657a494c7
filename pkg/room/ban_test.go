package room

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/pkg/event"
	"github.com/watchparty/watchparty/pkg/rdb"
	"github.com/watchparty/watchparty/pkg/testenv"
)

// TestJoinOfABannedUserGetsNoWelcome: a ban already in Redis when the
// viewer reaches the room refuses it before its welcome (which would show
// it the party's chats).
func TestJoinOfABannedUserGetsNoWelcome(t *testing.T) {
	r, rc, _ := newRooms(t)
	v, _ := pipedViewer(t, 100, 8) // user bob
	if err := rc.SAdd(context.Background(), rdb.KeysFor(v.Party).Bans, "bob").Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.Join(context.Background(), v, ""); !errors.Is(err, ErrBanned) {
		t.Fatalf("join of a banned user: %v; want ErrBanned", err)
	}
	if n := v.Queued(); n != 0 {
		t.Fatalf("%d frames queued for a banned user; want no welcome", n)
	}
}

// TestHubRefusesAUserBannedByAnEntryItDelivered: a ban delivered to the
// hub after the join's look at Redis lies before the position a welcome
// would cover, so its removal would never reach the viewer: the hub
// refuses the viewer instead; an unban lets it in again.
func TestHubRefusesAUserBannedByAnEntryItDelivered(t *testing.T) {
	r, _, _ := newRooms(t)
	v, _ := pipedViewer(t, 100, 8) // user bob
	h, err := r.hub(context.Background(), v.Party)
	if err != nil {
		t.Fatal(err)
	}
	ban := event.Event{Type: event.Ban, ID: uuid.New(), PartyID: v.Party, UserID: "host", Target: "bob",
		CreatedAt: event.Millis(time.Now()), StreamID: "9999999999999-0"}
	h.Deliver(ban, -1)
	welcomed := false
	if h.add(v, false, func(welcomeState) { welcomed = true }) || welcomed {
		t.Fatalf("a user banned by a delivered entry was welcomed")
	}
	unban := ban
	unban.Type, unban.ID, unban.StreamID = event.Unban, uuid.New(), "9999999999999-1"
	h.Deliver(unban, -1)
	if !h.add(v, false, func(welcomeState) { welcomed = true }) || !welcomed {
		t.Fatalf("an unbanned user was refused")
	}
}

// failingBans makes every SISMEMBER of a client fail, as Redis failing
// between the join's other reads and its look at the bans.
type failingBans struct{}

func (failingBans) DialHook(next redis.DialHook) redis.DialHook { return next }
func (failingBans) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (failingBans) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "sismember" {
			cmd.SetErr(errors.New("connection reset"))
			return cmd.Err()
		}
		return next(ctx, cmd)
	}
}

// TestJoinFailsWhenTheBansCannotBeRead: a ban that cannot be looked at
// refuses the join (the viewer retries) instead of admitting it.
func TestJoinFailsWhenTheBansCannotBeRead(t *testing.T) {
	r, _, _ := newRooms(t)
	rc := testenv.SharedRedisClient(t)
	rc.AddHook(failingBans{})
	r.rdb = rc
	v, _ := pipedViewer(t, 100, 8)
	err := r.Join(context.Background(), v, "")
	if err == nil || errors.Is(err, ErrBanned) {
		t.Fatalf("join while the bans cannot be read: %v; want a Redis error", err)
	}
	if n := v.Queued(); n != 0 {
		t.Fatalf("%d frames queued; want no welcome", n)
	}
}
