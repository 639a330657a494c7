// Package stream appends party events to Redis Streams, follows them live for
// fan-out and reads them back through the flushers' consumer group. It is
// this project's code, not a public API.
//
// Every key of one party carries the hash tag {<party_id>}, so on Redis
// Cluster a party lives on one slot and no command mixes parties.
package stream

import "github.com/google/uuid"

// Names operators and other programs rely on (SPEC §6).
const (
	// Group is the consumer group every flusher reads through.
	Group = "flushers"
	// RegistryKey is the set of party ids whose streams may hold unflushed
	// events; a gateway's write adds to it, cleanup removes from it.
	RegistryKey = "wp:streams"
)

// Keys names the Redis keys of one party.
type Keys struct {
	Stream  string // the party's event stream
	IDs     string // hash: event_id -> stream id, for resends of a client id
	Likers  string // set of users who liked the party
	Closed  string // present once the party is closed to writes
	Channel string // sharded pub/sub channel announcing new entries
}

// KeysFor returns the keys of party p.
func KeysFor(p uuid.UUID) Keys {
	tag := "wp:{" + p.String() + "}:"
	return Keys{
		Stream:  tag + "events",
		IDs:     tag + "ids",
		Likers:  tag + "likers",
		Closed:  tag + "closed",
		Channel: tag + "live",
	}
}
