package rdb

import (
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
)

// Every Redis key the project reads or writes is named in this file
// (docs/redis.md describes them; SPEC §6 fixes the names operators and other
// programs rely on). No other file builds a "wp:" key.

// Global keys, one per deployment.
const (
	// RegistryKey, wp:streams, is the set of party ids whose streams may
	// hold unflushed events; a gateway's write adds to it, cleanup removes
	// from it.
	RegistryKey = "wp:streams"
	// DLQKey, wp:dlq, is the dead-letter list: oldest batch at the head
	// (index 0), new batches appended at the tail. It is one global key,
	// which Redis Cluster serves from one slot like any other.
	DLQKey = "wp:dlq"
	// SchedulerLeaseKey, wp:scheduler:lease, holds the token of the flusher
	// that runs the party scheduler; it expires unless its holder renews it.
	SchedulerLeaseKey = "wp:scheduler:lease"
)

// UserConnsKey names the hash that counts user's open connections on each
// gateway pod: wp:user:{<user id in hex>}:conns. The id is hex-encoded, so
// that any id, braces included, names a key and a hash tag of its own.
func UserConnsKey(user string) string {
	return "wp:user:{" + hex.EncodeToString([]byte(user)) + "}:conns"
}

// PartyKeys names the Redis keys of one party. All but Ended carry the hash
// tag {<party_id>}, so on Redis Cluster a party lives on one slot and no
// command mixes parties.
type PartyKeys struct {
	Stream   string // wp:{<party>}:events, the party's event stream
	IDs      string // wp:{<party>}:ids, prefix of the client-id index generations (see IDsAt)
	Likers   string // wp:{<party>}:likers, set of users who liked the party
	Playback string // wp:{<party>}:playback, hash: state, position_ms, updated_at of the last play/pause/seek
	Viewers  string // wp:{<party>}:viewers, hash: gateway pod -> "count:expiry_ms"
	Peak     string // wp:{<party>}:peak, highest viewer count seen
	Failures string // wp:{<party>}:failures, hash: stream id -> permanent write failures so far
	Channel  string // wp:{<party>}:live, sharded pub/sub channel announcing new entries
	// Moderation state, changed by the append of a moderation event:
	Moderators string // wp:{<party>}:moderators, set of users the host appointed
	Bans       string // wp:{<party>}:bans, set of banned users
	Mutes      string // wp:{<party>}:mutes, hash: user -> end of the mute (Unix ms)
	Deleted    string // wp:{<party>}:deleted, set of event ids of deleted chats
	// RatePrefix, wp:{<party>}:rate:, prefixes the users' rate counts:
	// wp:{<party>}:rate:<class>:<user>:<window>, each expiring with its
	// window.
	RatePrefix string
	// Ended, wp:ended:{<party>}, marks a party closed to writes. It
	// deliberately lies outside wp:{<party>}:* so that removing the party's
	// keys keeps it, and a late write can never recreate a removed stream;
	// it expires after a week. It carries the same hash tag, so it shares
	// the party's slot.
	Ended string
}

// KeysFor returns the keys of party p.
func KeysFor(p uuid.UUID) PartyKeys { return cachedKeysFor(p).PartyKeys }

// namedKeys is a party's key names, kept for the parties used lately: the
// append path needs ten of them for every event, and naming them anew
// was the largest source of the gateway's garbage per event.
type namedKeys struct {
	PartyKeys
	append atomic.Pointer[appendKeys]
	// boxed holds the names the append script takes as command arguments,
	// each put in an interface once: boxing a string allocates, and these
	// go with every event.
	boxed struct{ stream, channel, likers, playback, moderators, deleted any }
}

// appendKeys is the first KEYS of every event of lua/append.lua for one
// client-id generation, each in an interface as the command takes it.
type appendKeys struct {
	generation int64
	keys       []any // read only once stored
	writes     atomic.Int64
	loads      atomic.Int64 // scriptLoads when this process last checked the time to live
}

// ttlCheckEvery is how often, in this process's writes to a party's
// client-id generation, the append script checks that the generation has
// its time to live: on the first write, on the first after the append
// script was loaded again (Redis restarted or was flushed, so the key may
// have been made again without one), and every so often between, so that
// no generation outlives IDTTL for long. Checking on every write cost
// about 5 % of the script's work.
const ttlCheckEvery = 64

// dedupFlag is the append script's dedup argument for an event written
// to this generation: "2" when the write must also check the
// generation's time to live, else "1".
func (a *appendKeys) dedupFlag() any {
	if loads := scriptLoads.Load(); a.loads.Swap(loads) != loads || a.writes.Add(1)%ttlCheckEvery == 1 {
		return "2"
	}
	return "1"
}

const namedParties = 8192

var partyKeys = func() *lru.Cache[uuid.UUID, *namedKeys] {
	c, err := lru.New[uuid.UUID, *namedKeys](namedParties)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return c
}()

func cachedKeysFor(p uuid.UUID) *namedKeys {
	if k, ok := partyKeys.Get(p); ok {
		return k
	}
	k := &namedKeys{PartyKeys: nameKeys(p)}
	b := &k.boxed
	b.stream, b.channel, b.likers = k.Stream, k.Channel, k.Likers
	b.playback, b.moderators, b.deleted = k.Playback, k.Moderators, k.Deleted
	partyKeys.Add(p, k)
	return k
}

// appendKeysAt is the first KEYS of every event of lua/append.lua at time
// now, all but the rate count (see QueueAppends).
func (n *namedKeys) appendKeysAt(now time.Time) *appendKeys {
	gen := now.UnixMilli() / IDGeneration.Milliseconds()
	if a := n.append.Load(); a != nil && a.generation == gen {
		return a
	}
	k := n.PartyKeys
	a := &appendKeys{generation: gen,
		keys: []any{k.Stream, k.IDsAt(now), k.IDsAt(now.Add(-IDGeneration)), k.Ended, k.Mutes, k.Bans}}
	n.append.Store(a)
	return a
}

// rateKey names user's count of rate class in the party's window (see
// Rate).
func (n *namedKeys) rateKey(class, user string, window int64) string {
	var buf [128]byte
	b := append(append(append(append(append(buf[:0], n.RatePrefix...), class...), ':'), user...), ':')
	return string(strconv.AppendInt(b, window, 10))
}

func nameKeys(p uuid.UUID) PartyKeys {
	tag := "{" + p.String() + "}"
	return PartyKeys{
		Stream:   "wp:" + tag + ":events",
		IDs:      "wp:" + tag + ":ids",
		Likers:   "wp:" + tag + ":likers",
		Playback: "wp:" + tag + ":playback",
		Viewers:  "wp:" + tag + ":viewers",
		Peak:     "wp:" + tag + ":peak",
		Failures: "wp:" + tag + ":failures",
		Channel:  "wp:" + tag + ":live",

		Moderators: "wp:" + tag + ":moderators",
		Bans:       "wp:" + tag + ":bans",
		Mutes:      "wp:" + tag + ":mutes",
		Deleted:    "wp:" + tag + ":deleted",
		RatePrefix: "wp:" + tag + ":rate:",
		Ended:      "wp:ended:" + tag,
	}
}

// The client-id index (event_id -> stream id, to answer a resent client
// id with its first entry) is kept in generations of IDGeneration: appends
// look in the current and the previous one and write the current one, which
// expires IDTTL after it was created. Resends are thus recognised for at
// least IDGeneration, and the index holds at most about IDTTL of events
// instead of the whole party.
const (
	IDGeneration = 10 * time.Minute
	IDTTL        = 25 * time.Minute
)

// IDsAt names the client-id index generation that holds time t:
// wp:{<party>}:ids:<generation>.
func (k PartyKeys) IDsAt(t time.Time) string {
	return k.IDs + ":" + strconv.FormatInt(t.UnixMilli()/IDGeneration.Milliseconds(), 10)
}

// Data lists the party's keys that cleanup removes at time now (all but
// Ended; older client-id generations have expired).
func (k PartyKeys) Data(now time.Time) []string {
	keys := []string{k.Stream, k.Likers, k.Playback, k.Viewers, k.Peak, k.Failures,
		k.Moderators, k.Bans, k.Mutes, k.Deleted}
	for g := time.Duration(0); g <= IDTTL+IDGeneration; g += IDGeneration {
		keys = append(keys, k.IDsAt(now.Add(-g)))
	}
	return keys
}
