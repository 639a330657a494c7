// Package stream appends party events to Redis Streams, follows them live for
// fan-out and reads them back through the flushers' consumer group. It is
// this project's code, not a public API.
//
// Every key of one party carries the hash tag {<party_id>}, so on Redis
// Cluster a party lives on one slot and no command mixes parties.
package stream

import (
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Names operators and other programs rely on (SPEC §6).
const (
	// Group is the consumer group every flusher reads through.
	Group = "flushers"
	// RegistryKey is the set of party ids whose streams may hold unflushed
	// events; a gateway's write adds to it, cleanup removes from it.
	RegistryKey = "wp:streams"
)

// Keys names the Redis keys of one party. All share the party's hash tag.
type Keys struct {
	Stream   string // the party's event stream
	IDs      string // prefix of the client-id index generations (see IDsAt)
	Likers   string // set of users who liked the party
	Playback string // hash: state, position_ms, updated_at of the last play/pause/seek
	Viewers  string // hash: gateway pod -> "count:expiry_ms"
	Peak     string // highest viewer count seen
	Failures string // hash: stream id -> permanent write failures so far
	Channel  string // sharded pub/sub channel announcing new entries
	// Ended marks a party closed to writes. It deliberately lies outside
	// wp:{<party>}:* so that removing the party's keys keeps it, and a late
	// write can never recreate a removed stream; it expires after a week.
	Ended string
}

// KeysFor returns the keys of party p.
func KeysFor(p uuid.UUID) Keys {
	tag := "{" + p.String() + "}"
	return Keys{
		Stream:   "wp:" + tag + ":events",
		IDs:      "wp:" + tag + ":ids",
		Likers:   "wp:" + tag + ":likers",
		Playback: "wp:" + tag + ":playback",
		Viewers:  "wp:" + tag + ":viewers",
		Peak:     "wp:" + tag + ":peak",
		Failures: "wp:" + tag + ":failures",
		Channel:  "wp:" + tag + ":live",
		Ended:    "wp:ended:" + tag,
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

// IDsAt names the client-id index generation that holds time t.
func (k Keys) IDsAt(t time.Time) string {
	return k.IDs + ":" + strconv.FormatInt(t.UnixMilli()/IDGeneration.Milliseconds(), 10)
}

// Data lists the party's keys that cleanup removes at time now (all but
// Ended; older client-id generations have expired).
func (k Keys) Data(now time.Time) []string {
	keys := []string{k.Stream, k.Likers, k.Playback, k.Viewers, k.Peak, k.Failures}
	for g := time.Duration(0); g <= IDTTL+IDGeneration; g += IDGeneration {
		keys = append(keys, k.IDsAt(now.Add(-g)))
	}
	return keys
}
