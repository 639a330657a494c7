package rdb

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

//go:embed lua/append.lua
var appendLua string

var appendScript = redis.NewScript(appendLua)

// AppendArgs is one event for lua/append.lua.
type AppendArgs struct {
	Payload []byte // the event's stream entry form, stored in field "e"
	EventID string // its event_id, the client-id index's field
	// Dedup says a resent EventID must answer its first entry instead of
	// storing a second one.
	Dedup       bool
	Like        bool   // the event is a like: counted once per UserID
	UserID      string // its user
	MaxBuffered int64  // most unflushed entries the party may hold; 0 means no limit
	// Playback is "play", "pause" or "seek" for a playback event with a
	// position (then PositionMS), else "".
	Playback   string
	PositionMS int64
	CreatedAt  string // a playback event's created_at, the playback hash's updated_at; else unused
	// MuteCheck says the event is a chat, refused ("muted") while UserID
	// is muted at time Now.
	MuteCheck bool
	Now       time.Time
	// Moderation is a moderation event's type, else "": its Target (a
	// user, or the event_id of the chat a delete hides) and, for a mute,
	// Until are written to the party's moderation state.
	Moderation string
	Target     string
	Until      time.Time
	// Host is the party's host, against which a moderation event's
	// roles are checked in the same step as its append.
	Host string
	// MaxDeleted is the most chats of the party deletes may hide.
	MaxDeleted int64
	// BanCheck says the event is refused ("banned") while UserID is banned
	// from the party: every event but a leave.
	BanCheck bool
	// Rate is the limit of the UserID's rate class this event counts
	// against, across every gateway; the zero Rate counts nothing.
	Rate Rate
}

// Rate is a rate class's limit per user per party: on average one event
// every Every, up to Burst at once. Redis counts it in fixed windows of
// Every × Burst holding at most Burst events each, named by the window's
// number on the gateway's clock, so every gateway shares the count and the
// script needs no clock and no arithmetic on times. A user may send up to
// 2 × Burst across a window's end; each gateway's own token bucket, taken
// first, keeps one connection to the exact rate.
type Rate struct {
	Class string // names the count: wp:{<party>}:rate:<class>:<user>:<window>
	Every time.Duration
	Burst int
}

// On reports whether r limits anything.
func (r Rate) On() bool { return r.Class != "" && r.Every > 0 && r.Burst > 0 }

// window is the length of r's windows, at least a millisecond.
func (r Rate) window() time.Duration { return max(r.Every*time.Duration(r.Burst), time.Millisecond) }

// AppendReply is lua/append.lua's answer.
type AppendReply struct {
	// Status is "ok" (stored), "duplicate" (StreamID is the first entry of
	// the event_id), "liked" (the user's like was counted before), "muted"
	// (the chat's user is muted until MutedUntil), "closed" (the party
	// takes no more events), "full" (its unflushed backlog is full),
	// "banned" (the user is banned from the party), "forbidden" (the
	// moderation action is not the user's to take: Reason says why),
	// "rate_limited" (the user's bucket is empty for RetryAfter) or
	// "deleted_full" (the party's deletes hide MaxDeleted chats already).
	Status     string
	StreamID   string
	Likes      int64 // the like total after a like, else -1
	MutedUntil time.Time
	Reason     string
	RetryAfter time.Duration
}

// QueueAppend queues lua/append.lua by EVALSHA on p (a pipeline) for
// party at time now; AppendReplyOf reads the command's answer once p
// ran. It never falls back to EVAL: a pipeline that failed with NOSCRIPT
// (IsNoScript) is run again after LoadAppend.
func QueueAppend(ctx context.Context, p redis.Scripter, party uuid.UUID, now time.Time, a AppendArgs) *redis.Cmd {
	k := cachedKeysFor(party)
	muteCheck, until := int64(0), int64(0)
	if a.MuteCheck {
		muteCheck = a.Now.UnixMilli()
	}
	if !a.Until.IsZero() {
		until = a.Until.UnixMilli()
	}
	keys := k.appendKeysAt(now)
	limit, window := 0, int64(0)
	if a.Rate.On() {
		w := a.Rate.window().Milliseconds()
		keys = append(keys[:len(keys):len(keys)], k.rateKey(a.Rate.Class, a.UserID, now.UnixMilli()/w))
		limit, window = a.Rate.Burst, w
	} else {
		keys = append(keys[:len(keys):len(keys)], k.Stream) // KEYS[11] unused without a rate
	}
	return appendScript.EvalSha(ctx, p, keys,
		a.Payload, a.EventID, flag(a.Dedup), flag(a.Like), a.UserID,
		a.MaxBuffered, k.Channel, a.Playback, a.PositionMS, a.CreatedAt, int(IDTTL.Seconds()),
		muteCheck, a.Moderation, a.Target, until,
		flag(a.BanCheck), a.Host, limit, window, a.MaxDeleted)
}

// AppendReplyOf converts the answer of a command QueueAppend queued. Its
// error is the command's own or says the reply was malformed.
func AppendReplyOf(cmd *redis.Cmd) (AppendReply, error) {
	vals, err := cmd.StringSlice()
	if err != nil {
		return AppendReply{}, err
	}
	if len(vals) != 3 {
		return AppendReply{}, fmt.Errorf("unexpected append reply %q", vals)
	}
	likes, _ := strconv.ParseInt(vals[2], 10, 64)
	switch vals[0] {
	case "muted":
		until, _ := strconv.ParseInt(vals[1], 10, 64)
		return AppendReply{Status: vals[0], Likes: likes, MutedUntil: time.UnixMilli(until).UTC()}, nil
	case "forbidden":
		return AppendReply{Status: vals[0], Likes: likes, Reason: vals[1]}, nil
	case "rate_limited":
		ms, _ := strconv.ParseInt(vals[1], 10, 64)
		return AppendReply{Status: vals[0], Likes: likes, RetryAfter: time.Duration(ms) * time.Millisecond}, nil
	}
	return AppendReply{Status: vals[0], StreamID: vals[1], Likes: likes}, nil
}

// LoadAppend loads lua/append.lua into the script cache (of every master
// of a cluster).
func LoadAppend(ctx context.Context, c redis.Scripter) error {
	return appendScript.Load(ctx, c).Err()
}

// AppendLoaded reports whether lua/append.lua is in the script cache.
func AppendLoaded(ctx context.Context, c redis.Scripter) (bool, error) {
	exists, err := c.ScriptExists(ctx, appendScript.Hash()).Result()
	if err != nil {
		return false, err
	}
	return len(exists) == 1 && exists[0], nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
