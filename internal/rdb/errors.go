package rdb

import (
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Every test of what a Redis error means is in this file: the server's
// replies are told apart by their text, and only here.

// IsReply reports whether err is a reply of a Redis server (it answered,
// refusing the command) rather than a failure to reach it.
func IsReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// IsNoSuchKey reports whether err is Redis saying a key does not exist
// ("ERR no such key", as XINFO answers for a missing stream).
func IsNoSuchKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such key")
}

// IsNoStream reports whether err is Redis refusing XGROUP CREATE because
// the stream does not exist ("requires the key to exist").
func IsNoStream(err error) bool {
	return err != nil && strings.Contains(err.Error(), "requires the key to exist")
}

// IsBusyGroup reports whether err is Redis saying a consumer group already
// exists (BUSYGROUP).
func IsBusyGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "BUSYGROUP")
}

// IsNoScript reports whether err is Redis saying it does not have a script
// loaded (NOSCRIPT, after EVALSHA): a restarted server or a flushed script
// cache.
func IsNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}
