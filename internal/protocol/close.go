package protocol

import "strconv"

// CloseCode is a WebSocket close code the server sends. Only this package
// makes them: a bare number is no CloseCode, so every close code the
// server can send is one declared here.
type CloseCode struct {
	n    int
	name string // the Go name without Close, in snake case; the browser client's key
}

// The close codes (docs/protocol.md, "Close codes"), with the reasons
// each is sent with.
var (
	// CloseNormal (1000): the party ended ("party ended"). Do not reconnect.
	CloseNormal = CloseCode{1000, "normal"}
	// CloseGoingAway (1001): the gateway is stopping ("server shutting
	// down"). Reconnect at once with since.
	CloseGoingAway = CloseCode{1001, "going_away"}
	// ClosePolicy (1008): the token expired ("token expired") or the
	// client sent too many invalid frames ("too many invalid frames").
	// Renew the token, or fix the client, before reconnecting.
	ClosePolicy = CloseCode{1008, "policy"}
	// CloseTooBig (1009): a frame over the size limit; the WebSocket
	// library sends it, without a reason. Fix the client.
	CloseTooBig = CloseCode{1009, "too_big"}
	// CloseTryAgainLater (1013): the viewer was too slow ("slow_consumer"),
	// its catch-up could not complete ("catch_up_failed"), or its join
	// could not ("unavailable"). Reconnect with since after a backoff.
	CloseTryAgainLater = CloseCode{1013, "try_again_later"}
	// CloseRemoved (4003): the host or a moderator kicked ("kicked") or
	// banned ("banned") the user. Do not reconnect by itself.
	CloseRemoved = CloseCode{4003, "removed"}
)

// CloseCodes lists every close code the server sends.
func CloseCodes() []CloseCode {
	return []CloseCode{CloseNormal, CloseGoingAway, ClosePolicy, CloseTooBig, CloseTryAgainLater, CloseRemoved}
}

// Int is the code's number, as it goes in a close frame.
func (c CloseCode) Int() int { return c.n }

// Name is the code's short name ("removed" for 4003), the key the browser
// client gives it.
func (c CloseCode) Name() string { return c.name }

// String is the code's number and name: "4003 removed".
func (c CloseCode) String() string { return strconv.Itoa(c.n) + " " + c.name }

// The close reasons of docs/protocol.md, sent with the code named. The
// Socket.IO endpoint closes its transport with reasons of its own
// (docs/socketio.md).
const (
	ReasonPartyEnded      = "party ended"             // CloseNormal
	ReasonShuttingDown    = "server shutting down"    // CloseGoingAway
	ReasonTokenExpired    = "token expired"           // ClosePolicy
	ReasonTooManyInvalid  = "too many invalid frames" // ClosePolicy
	ReasonSlowConsumer    = "slow_consumer"           // CloseTryAgainLater
	ReasonCatchUpFailed   = "catch_up_failed"         // CloseTryAgainLater
	ReasonJoinUnavailable = "unavailable"             // CloseTryAgainLater
	ReasonKicked          = "kicked"                  // CloseRemoved
	ReasonBanned          = "banned"                  // CloseRemoved
)

// The reasons the Socket.IO endpoint closes its transport with, beside
// those above (docs/socketio.md: "Heartbeat", "Namespace", "Disconnects").
const (
	ReasonPingTimeout         = "ping timeout"                // CloseGoingAway: no pong in time
	ReasonNoConnect           = "no CONNECT"                  // ClosePolicy: no party joined by the first ping
	ReasonTooManyConnects     = "too many refused connects"   // ClosePolicy
	ReasonNamespaceDisconnect = "client namespace disconnect" // CloseNormal: the client's DISCONNECT
)

// CloseReason is a close reason with the code it is sent with.
type CloseReason struct {
	Code   CloseCode
	Reason string
}

// CloseReasons lists the closes of docs/protocol.md: each reason with its
// code.
func CloseReasons() []CloseReason {
	return []CloseReason{
		{CloseNormal, ReasonPartyEnded},
		{CloseGoingAway, ReasonShuttingDown},
		{ClosePolicy, ReasonTokenExpired},
		{ClosePolicy, ReasonTooManyInvalid},
		{CloseTryAgainLater, ReasonSlowConsumer},
		{CloseTryAgainLater, ReasonCatchUpFailed},
		{CloseTryAgainLater, ReasonJoinUnavailable},
		{CloseRemoved, ReasonKicked},
		{CloseRemoved, ReasonBanned},
	}
}
