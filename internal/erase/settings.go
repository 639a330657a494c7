package erase

import (
	"time"

	"github.com/watchparty/watchparty/internal/envflag"
)

// Options is what `flusher erase-user` is asked on its command line; the
// command makes a Request of it once the party id is parsed.
type Options struct {
	User  string // the user id whose events are erased
	Party string // a party id, or "" for every party
	Batch int    // most rows deleted per transaction (Request.Batch)
	// InFlight is how long events accepted before the erasure may still
	// be appended (Request.InFlight).
	InFlight time.Duration
}

// Settings declares the flags of `flusher erase-user`, bound to o.
func Settings(o *Options) []envflag.Setting {
	return []envflag.Setting{
		envflag.String{P: &o.User, Flag: "user", NonEmpty: true,
			Help: "the user id whose chats, likes and logs are erased (required)"},
		envflag.String{P: &o.Party, Flag: "party",
			Help: "erase only in this party id (default: in every party)"},
		envflag.Int{P: &o.Batch, Flag: "batch", Default: 5000, Bound: envflag.Positive,
			Help: "most rows deleted per transaction"},
		// A gateway's appender answers or drops every append within 5 s of
		// its caller's deadline (internal/stream); the default adds a margin.
		envflag.Duration{P: &o.InFlight, Flag: "in-flight-wait", Default: 6 * time.Second,
			Bound: envflag.NonNegative,
			Help:  "how long events accepted before the erasure may still reach a stream; they are erased too",
			Doc: "how long events gateways accepted before the erasure may still take to reach their stream " +
				"(a gateway answers or drops each append within 5 s): the erasure covers what is appended until " +
				"then, and the command removes it after waiting that long"},
	}
}
