package rdb

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Every Lua script the project runs is one file in lua/, embedded here,
// whose header documents each KEYS[i] and ARGV[i] and the reply; each has a
// typed wrapper below, so callers never build KEYS or ARGV by hand. The
// wrappers run scripts with go-redis's Script.Run: EVALSHA, falling back to
// EVAL when the server does not have the script. The append script, which
// runs in pipelines, has its own file (append.go).

var (
	//go:embed lua/close.lua
	closeLua string
	//go:embed lua/snapshot.lua
	snapshotLua string
	//go:embed lua/del_idle_consumer.lua
	delIdleConsumerLua string
	//go:embed lua/viewer_count.lua
	viewerCountLua string
	//go:embed lua/dlq_replace.lua
	dlqReplaceLua string
	//go:embed lua/server_time.lua
	serverTimeLua string
	//go:embed lua/lease_hold.lua
	leaseHoldLua string
	//go:embed lua/lease_renew.lua
	leaseRenewLua string
	//go:embed lua/lease_release.lua
	leaseReleaseLua string
	//go:embed lua/erase_like.lua
	eraseLikeLua string
)

var (
	closeScript           = redis.NewScript(closeLua)
	snapshotScript        = redis.NewScript(snapshotLua)
	delIdleConsumerScript = redis.NewScript(delIdleConsumerLua)
	viewerCountScript     = redis.NewScript(viewerCountLua)
	dlqReplaceScript      = redis.NewScript(dlqReplaceLua)
	serverTimeScript      = redis.NewScript(serverTimeLua)
	leaseHoldScript       = redis.NewScript(leaseHoldLua)
	leaseRenewScript      = redis.NewScript(leaseRenewLua)
	leaseReleaseScript    = redis.NewScript(leaseReleaseLua)
	eraseLikeScript       = redis.NewScript(eraseLikeLua)
)

// EndedMessage is the announcement on a party's channel that it ended
// (lua/close.lua publishes it).
const EndedMessage = "!ended"

// erasedPrefix starts the announcement that a user's events in the party
// were erased: "!erased <erased_at, Unix ms> <user>".
const erasedPrefix = "!erased "

// ErasedMessage announces on a party's channel that user's events created
// until at were erased (flusher erase-user), so that gateways forget the
// chats of that user they keep in memory for welcomes.
func ErasedMessage(user string, at time.Time) string {
	return erasedPrefix + strconv.FormatInt(at.UnixMilli(), 10) + " " + user
}

// ParseErased reads an ErasedMessage; ok is false for any other message.
func ParseErased(msg string) (user string, at time.Time, ok bool) {
	rest, found := strings.CutPrefix(msg, erasedPrefix)
	if !found {
		return "", time.Time{}, false
	}
	ms, user, found := strings.Cut(rest, " ")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !found || err != nil || user == "" {
		return "", time.Time{}, false
	}
	return user, time.UnixMilli(n).UTC(), true
}

// likesPrefix starts the announcement of a party's like total after an
// erased like: "!likes <total>".
const likesPrefix = "!likes "

// LikesMessage announces that a party's like total is now total
// (lua/erase_like.lua publishes it).
func LikesMessage(total int64) string { return likesPrefix + strconv.FormatInt(total, 10) }

// ParseLikes reads a LikesMessage; ok is false for any other message.
func ParseLikes(msg string) (total int64, ok bool) {
	rest, found := strings.CutPrefix(msg, likesPrefix)
	if !found {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n >= 0
}

// EraseLike takes user's like off the party of k and, if there was one,
// announces the party's new like total (LikesMessage), in one step
// (lua/erase_like.lua). It reports whether there was a like.
func EraseLike(ctx context.Context, c redis.Scripter, k PartyKeys, user string) (bool, error) {
	n, err := eraseLikeScript.Run(ctx, c, []string{k.Likers}, user, k.Channel).Int()
	return n == 1, err
}

// CloseParty closes the party of k to writes for ttl (whole seconds)
// and announces EndedMessage on its channel, in one step (lua/close.lua).
func CloseParty(ctx context.Context, c redis.Scripter, k PartyKeys, ttl time.Duration) error {
	return closeScript.Run(ctx, c, []string{k.Ended}, k.Channel, int(ttl.Seconds())).Err()
}

// SnapshotReply is what lua/snapshot.lua read: the stream's last id ("0-0"
// for an empty stream) and the playback hash's fields ("" and 0 when unset).
type SnapshotReply struct {
	LastID     string
	State      string
	PositionMS int64
	UpdatedAt  string
}

// ReadSnapshot reads the last id of the party's stream and its playback
// state in one step (lua/snapshot.lua).
func ReadSnapshot(ctx context.Context, c redis.Scripter, k PartyKeys) (SnapshotReply, error) {
	vals, err := snapshotScript.Run(ctx, c, []string{k.Stream, k.Playback}).StringSlice()
	if err != nil {
		return SnapshotReply{}, err
	}
	if len(vals) != 4 {
		return SnapshotReply{}, fmt.Errorf("bad snapshot reply %q", vals)
	}
	r := SnapshotReply{LastID: vals[0], State: vals[1], UpdatedAt: vals[3]}
	r.PositionMS, _ = strconv.ParseInt(vals[2], 10, 64)
	return r, nil
}

// DeleteIdleConsumer deletes consumer from group on stream unless it
// holds pending entries, reporting whether it did (lua/del_idle_consumer.lua).
func DeleteIdleConsumer(ctx context.Context, c redis.Scripter, stream, group, consumer string) (bool, error) {
	n, err := delIdleConsumerScript.Run(ctx, c, []string{stream}, group, consumer).Int()
	return n == 1, err
}

// SetViewerCount sets pod's count of the party's viewers, valid until
// expires, and returns the party's total at now across live pods; count 0
// withdraws the pod's entry. A closed party's counts are only read
// (lua/viewer_count.lua).
func SetViewerCount(ctx context.Context, c redis.Scripter, k PartyKeys, pod string, count int, expires, now time.Time) (int, error) {
	return viewerCountScript.Run(ctx, c, []string{k.Viewers, k.Peak, k.Ended},
		pod, count, expires.UnixMilli(), now.UnixMilli()).Int()
}

// ReadViewerCount returns the party's viewer total at now across live
// pods, dropping entries of pods that stopped refreshing (lua/viewer_count.lua).
func ReadViewerCount(ctx context.Context, c redis.Scripter, k PartyKeys, now time.Time) (int, error) {
	return viewerCountScript.Run(ctx, c, []string{k.Viewers, k.Peak, k.Ended}, "", 0, 0, now.UnixMilli()).Int()
}

// listRemovalMarker stands for an element being removed, inside one run of
// lua/dlq_replace.lua; it is never left in the list and is not a JSON
// document, so it equals no element.
const listRemovalMarker = "\x00wp:dlq:removed"

// ReplaceInList replaces the element old of list key, read at index,
// with replacement, or removes it when replacement is "", reporting whether
// old was still there: a compare-and-swap on the whole element
// (lua/dlq_replace.lua).
func ReplaceInList(ctx context.Context, c redis.Scripter, key string, index int, old, replacement string) (bool, error) {
	n, err := dlqReplaceScript.Run(ctx, c, []string{key}, index, old, replacement, listRemovalMarker).Int()
	return n == 1, err
}

// ServerTime returns the clock of the server holding key
// (lua/server_time.lua).
func ServerTime(ctx context.Context, c redis.Scripter, key string) (time.Time, error) {
	parts, err := serverTimeScript.Run(ctx, c, []string{key}).StringSlice()
	if err != nil {
		return time.Time{}, err
	}
	if len(parts) != 2 {
		return time.Time{}, fmt.Errorf("bad reply %q", parts)
	}
	sec, err1 := strconv.ParseInt(parts[0], 10, 64)
	usec, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, fmt.Errorf("bad reply %q", parts)
	}
	return time.Unix(sec, usec*1000).UTC(), nil
}

// HoldLease takes the lease key for owner for ttl, or renews it when
// owner holds it, and reports whether owner holds it (lua/lease_hold.lua).
func HoldLease(ctx context.Context, c redis.Scripter, key, owner string, ttl time.Duration) (bool, error) {
	n, err := leaseHoldScript.Run(ctx, c, []string{key}, owner, ttl.Milliseconds()).Int()
	return n == 1, err
}

// RenewLease extends the lease key by ttl only while owner holds it,
// and reports whether it does (lua/lease_renew.lua).
func RenewLease(ctx context.Context, c redis.Scripter, key, owner string, ttl time.Duration) (bool, error) {
	n, err := leaseRenewScript.Run(ctx, c, []string{key}, owner, ttl.Milliseconds()).Int()
	return n == 1, err
}

// ReleaseLease deletes the lease key when owner holds it
// (lua/lease_release.lua).
func ReleaseLease(ctx context.Context, c redis.Scripter, key, owner string) error {
	return leaseReleaseScript.Run(ctx, c, []string{key}, owner).Err()
}
