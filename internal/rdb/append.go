package rdb

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
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
	Dedup  bool
	Like   bool   // the event is a like: counted once per UserID
	UserID string // its user
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
	// "rate_limited" (the user's count is used up for RetryAfter),
	// "deleted_full" (the party's deletes hide MaxDeleted chats already)
	// or "error" (Redis failed this event alone: Reason is its error).
	Status     string
	StreamID   string
	Likes      int64 // the like total after a like, else -1
	MutedUntil time.Time
	Reason     string
	RetryAfter time.Duration
}

// AppendEvent is one event of a QueueAppends call: its party and its
// arguments.
type AppendEvent struct {
	Party uuid.UUID
	AppendArgs
}

// AppendBatchLimits are the limits lua/append.lua applies to every event of
// a call.
type AppendBatchLimits struct {
	MaxBuffered int64 // most unflushed entries a party may hold; 0 means no limit
	MaxDeleted  int64 // most chats of a party deletes may hide; 0 means no limit
}

// QueueAppends queues one EVALSHA of lua/append.lua on p (a pipeline) for
// events, at time now; AppendRepliesOf reads the command's answers once p
// ran. On Redis Cluster every event must be of one slot (one party is).
// It never falls back to EVAL: a pipeline that failed with NOSCRIPT
// (IsNoScript) is run again after LoadAppend. The command is built here,
// not by the client's EvalSha, so that the names of a party, boxed once,
// are not boxed again for every event.
func QueueAppends(ctx context.Context, p redis.Pipeliner, now time.Time, lim AppendBatchLimits,
	events []AppendEvent) *redis.Cmd {
	keys := make([]any, 0, 8*len(events))
	args := make([]any, 0, 3+11*len(events))
	args = append(args, lim.MaxBuffered, int(IDTTL.Seconds()), lim.MaxDeleted)
	for _, e := range events {
		k := cachedKeysFor(e.Party)
		gen := k.appendKeysAt(now)
		keys = append(keys, gen.keys...)
		limit, window := any("0"), any("0")
		if e.Rate.On() {
			w := e.Rate.window().Milliseconds()
			keys = append(keys, k.rateKey(e.Rate.Class, e.UserID, now.UnixMilli()/w))
			limit, window = rateArgs(e.Rate)
		} else {
			keys = append(keys, k.boxed.stream) // not read without a rate
		}
		muteCheck := any("0")
		if e.MuteCheck {
			muteCheck = e.Now.UnixMilli()
		}
		dedup := any("0")
		if e.Dedup {
			dedup = gen.dedupFlag()
		}
		args = append(args, e.Payload, e.EventID, dedup, e.UserID, k.boxed.channel, muteCheck, flag(e.BanCheck),
			limit, window)
		// The kind's own KEYS and ARGV.
		switch {
		case e.Moderation != "":
			until := int64(0)
			if !e.Until.IsZero() {
				until = e.Until.UnixMilli()
			}
			keys = append(keys, k.boxed.moderators, k.boxed.deleted)
			args = append(args, "moderation", e.Moderation, e.Target, until, e.Host)
		case e.Playback != "":
			keys = append(keys, k.boxed.playback)
			args = append(args, "playback", e.Playback, e.PositionMS, e.CreatedAt)
		case e.Like:
			keys = append(keys, k.boxed.likers)
			args = append(args, "like")
		default:
			args = append(args, "")
		}
	}
	cmd := make([]any, 0, 3+len(keys)+len(args))
	cmd = append(cmd, "evalsha", appendScript.Hash(), len(keys))
	cmd = append(append(cmd, keys...), args...)
	return p.Do(ctx, cmd...)
}

// rateArgs are a rate's limit and window as the append script takes them,
// boxed once per rate.
func rateArgs(r Rate) (limit, window any) {
	if v, ok := boxedRates.Load(r); ok {
		b := v.([2]any)
		return b[0], b[1]
	}
	b := [2]any{r.Burst, r.window().Milliseconds()}
	boxedRates.Store(r, b)
	return b[0], b[1]
}

var boxedRates sync.Map // Rate -> [2]any

// AppendRepliesOf converts the answers, one per event, of a command
// QueueAppends queued for n events. Its error is the command's own (then
// no event has an answer) or says the reply was malformed; an event that
// Redis failed alone has Status "error" and Redis's error in Reason.
func AppendRepliesOf(cmd *redis.Cmd, n int) ([]AppendReply, error) {
	vals, err := cmd.StringSlice()
	if err != nil {
		return nil, err
	}
	if len(vals) != 3*n {
		return nil, fmt.Errorf("append reply of %d strings for %d events", len(vals), n)
	}
	out := make([]AppendReply, n)
	for i := range out {
		out[i] = appendReplyOf(vals[3*i], vals[3*i+1], vals[3*i+2])
	}
	return out, nil
}

func appendReplyOf(status, detail, likesText string) AppendReply {
	likes, _ := strconv.ParseInt(likesText, 10, 64)
	r := AppendReply{Status: status, Likes: likes}
	switch status {
	case "muted":
		until, _ := strconv.ParseInt(detail, 10, 64)
		r.MutedUntil = time.UnixMilli(until).UTC()
	case "forbidden", "error":
		r.Reason = detail
	case "rate_limited":
		ms, _ := strconv.ParseInt(detail, 10, 64)
		r.RetryAfter = time.Duration(ms) * time.Millisecond
	default:
		r.StreamID = detail
	}
	return r
}

// LoadAppend loads lua/append.lua into the script cache (of every master
// of a cluster).
func LoadAppend(ctx context.Context, c redis.Scripter) error {
	scriptLoads.Add(1)
	return appendScript.Load(ctx, c).Err()
}

// scriptLoads counts LoadAppend's calls: each may follow a Redis that
// lost its keys (see ttlCheckEvery).
var scriptLoads atomic.Int64

// AppendLoaded reports whether lua/append.lua is in the script cache.
func AppendLoaded(ctx context.Context, c redis.Scripter) (bool, error) {
	exists, err := c.ScriptExists(ctx, appendScript.Hash()).Result()
	if err != nil {
		return false, err
	}
	return len(exists) == 1 && exists[0], nil
}

func flag(b bool) any {
	if b {
		return "1"
	}
	return "0"
}
