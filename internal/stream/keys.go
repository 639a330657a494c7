package stream

import (
	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/rdb"
)

// Names operators and other programs rely on (SPEC §6).
const (
	// Group is the consumer group every flusher reads through.
	Group = rdb.FlushGroup
	// RegistryKey is the set of party ids whose streams may hold unflushed
	// events (rdb.RegistryKey).
	RegistryKey = rdb.RegistryKey
)

// Keys names the Redis keys of one party (see rdb.PartyKeys).
type Keys = rdb.PartyKeys

// KeysFor returns the keys of party p.
func KeysFor(p uuid.UUID) Keys { return rdb.KeysFor(p) }
