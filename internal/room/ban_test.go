package room

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/protocol"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/testenv"
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
	if h.add(v, false, false, func(welcomeState) { welcomed = true }) || welcomed {
		t.Fatalf("a user banned by a delivered entry was welcomed")
	}
	unban := ban
	unban.Type, unban.ID, unban.StreamID = event.Unban, uuid.New(), "9999999999999-1"
	h.Deliver(unban, -1)
	if !h.add(v, false, false, func(welcomeState) { welcomed = true }) || !welcomed {
		t.Fatalf("an unbanned user was refused")
	}
}

// failingBans makes every SISMEMBER of a client fail, as Redis failing
// between the join's other reads and its look at the bans.
type failingBans struct{}

func (failingBans) DialHook(next redis.DialHook) redis.DialHook { return next }
func (failingBans) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if cmd.Name() == "sismember" {
				cmd.SetErr(errors.New("connection reset"))
				return cmd.Err()
			}
		}
		return next(ctx, cmds)
	}
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

// TestWelcomeNamesTheRole: the welcome tells a viewer whether it hosts the
// party, moderates it (as Redis says when it joins) or neither.
func TestWelcomeNamesTheRole(t *testing.T) {
	for _, c := range []struct {
		name      string
		host, mod bool
		want      string
	}{{"host", true, false, protocol.RoleHost}, {"moderator", false, true, protocol.RoleModerator},
		{"viewer", false, false, protocol.RoleViewer}} {
		t.Run(c.name, func(t *testing.T) {
			r, rc, _ := newRooms(t)
			v, conn := pipedViewer(t, 100, 8) // user bob
			v.Host = c.host
			if c.mod {
				if err := rc.SAdd(context.Background(), rdb.KeysFor(v.Party).Moderators, "bob").Err(); err != nil {
					t.Fatal(err)
				}
			}
			if err := r.Join(context.Background(), v, ""); err != nil {
				t.Fatal(err)
			}
			var w Welcome
			if err := conn.ReadJSON(&w); err != nil {
				t.Fatal(err)
			}
			if w.Type != "welcome" || w.Role != c.want {
				t.Fatalf("welcome %+v; want role %q", w, c.want)
			}
		})
	}
}

// TestHubRoleFollowsDeliveredEntries: a role change the hub delivered
// after the join read the viewer's standing lies before the position the
// welcome covers, so the welcome's role follows the hub, not the read.
func TestHubRoleFollowsDeliveredEntries(t *testing.T) {
	r, _, _ := newRooms(t)
	v, _ := pipedViewer(t, 100, 8) // user bob
	h, err := r.hub(context.Background(), v.Party)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	deliver := func(typ event.Type) {
		n++
		h.Deliver(event.Event{Type: typ, ID: uuid.New(), PartyID: v.Party, UserID: "host", Target: "bob",
			CreatedAt: event.Millis(time.Now()), StreamID: "9999999999999-" + strconv.Itoa(n)}, -1)
	}
	roleAfter := func(readModerator bool) bool {
		var st welcomeState
		if !h.add(v, false, readModerator, func(s welcomeState) { st = s }) {
			t.Fatal("bob was refused")
		}
		h.remove(v)
		return st.Moderator
	}
	if roleAfter(true) != true || roleAfter(false) != false {
		t.Fatal("with no delivered change the welcome does not follow the read")
	}
	deliver(event.ModeratorAdd)
	if !roleAfter(false) {
		t.Fatal("a delivered moderator_add is not in the welcome")
	}
	deliver(event.ModeratorRemove)
	if roleAfter(true) {
		t.Fatal("a delivered moderator_remove is not in the welcome")
	}
}

// TestHubLikesFollowAnErasedLike: an erased like sets the hub's total
// down, and a join's read of the total from before it (a higher, stale
// total) does not raise it again; a read after it does.
func TestHubLikesFollowAnErasedLike(t *testing.T) {
	r, _, _ := newRooms(t)
	h, err := r.hub(context.Background(), uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	h.noteLikes(3, h.likesRead())
	before := h.likesRead()
	h.Likes(2)
	h.noteLikes(3, before) // read before the erasure
	if got := likesOf(h); got != 2 {
		t.Fatalf("like total %d after an erased like and a stale read; want 2", got)
	}
	h.noteLikes(4, h.likesRead())
	if got := likesOf(h); got != 4 {
		t.Fatalf("like total %d after a read since the erasure; want 4", got)
	}
}

func likesOf(h *Hub) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.likes
}
