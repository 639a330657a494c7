package protocol

import "fmt"

// Code is an error code viewers and API clients see, in an error frame,
// an HTTP error body or a Socket.IO connect_error. Only this package makes
// codes: a bare string is no Code, so every code the server can send is
// one declared here. The zero Code is no code (nothing was refused).
type Code struct{ name string }

// The error codes. Each says when it is sent and what the client does with
// what it sent.
var (
	// CodeInvalidRequest: a REST request, or a Socket.IO CONNECT's auth,
	// is malformed (HTTP 400). Nothing was done; do not resend it as is.
	CodeInvalidRequest = Code{"invalid_request"}
	// CodeInvalidMessage: a frame is malformed (bad JSON, type, field,
	// id or UTF-8). Not stored; do not resend it: fix the client.
	CodeInvalidMessage = Code{"invalid_message"}
	// CodeUnauthorized: the token is missing, malformed, badly signed or
	// expired (HTTP 401). Retry with a new token.
	CodeUnauthorized = Code{"unauthorized"}
	// CodeForbidden: the sender may not do this: an origin not allowed,
	// a banned user's join, playback by someone other than the host, a
	// moderation action beyond the sender's role. Not stored; do not resend.
	CodeForbidden = Code{"forbidden"}
	// CodeNotFound: no such party or endpoint (HTTP 404). Do not retry.
	CodeNotFound = Code{"not_found"}
	// CodeConflict: the party is not in the state the request needs (a
	// join to a party not ONGOING), or a second party on one Socket.IO
	// connection (HTTP 409). Do not resend.
	CodeConflict = Code{"conflict"}
	// CodeRateLimited: over a rate of the user, the address or the party.
	// Not stored; resend later, slower.
	CodeRateLimited = Code{"rate_limited"}
	// CodePartyEnded: the party is no longer ONGOING. Not stored; stop
	// sending.
	CodePartyEnded = Code{"party_ended"}
	// CodeMuted: a chat of a user muted in the party. Not stored; resend
	// only after the mute ends.
	CodeMuted = Code{"muted"}
	// CodeBanned: any event of a user banned from the party; the
	// connection is closed after it (4003 "banned"). Not stored; stop and
	// do not reconnect.
	CodeBanned = Code{"banned"}
	// CodeUnavailable: Redis could not take the event, the party's
	// backlog is full, or the gateway is shutting down (HTTP 503 for a
	// join). Maybe stored: resend the same frame with the same id after a
	// short pause; it is stored at most once.
	CodeUnavailable = Code{"unavailable"}
)

// ErrorCodes lists every error code, for tests and metrics that go
// through them all.
func ErrorCodes() []Code {
	return []Code{CodeInvalidRequest, CodeInvalidMessage, CodeUnauthorized, CodeForbidden, CodeNotFound,
		CodeConflict, CodeRateLimited, CodePartyEnded, CodeMuted, CodeBanned, CodeUnavailable}
}

// String is the code as it goes on the wire; "" for the zero Code.
func (c Code) String() string { return c.name }

// IsZero reports whether c is no code.
func (c Code) IsZero() bool { return c.name == "" }

// MarshalText writes the code as its wire string.
func (c Code) MarshalText() ([]byte, error) { return []byte(c.name), nil }

// UnmarshalText reads a declared code, and refuses any other string.
func (c *Code) UnmarshalText(b []byte) error {
	code, ok := ParseCode(string(b))
	if !ok {
		return fmt.Errorf("unknown error code %q", b)
	}
	*c = code
	return nil
}

// ParseCode returns the declared code named s, or false when there is none.
func ParseCode(s string) (Code, bool) {
	for _, c := range ErrorCodes() {
		if c.name == s {
			return c, true
		}
	}
	return Code{}, false
}
