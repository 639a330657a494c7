package gateway

import "github.com/watchparty/watchparty/pkg/event"

// pingType is the clock-exchange frame (docs/protocol.md, "Clock"): not an
// event, nothing is stored or broadcast; the gateway answers it at once with
// its own time, so a client can measure its clock's offset NTP-style.
const pingType event.Type = "ping"

// Pings allowed per second per user per party, and at once. A client takes
// a handful of samples on joining and one now and then after.
const (
	pingRate  = 2
	pingBurst = 10
)

type pongFrame struct {
	Type       string `json:"type"`
	ID         string `json:"id,omitempty"`
	ServerTime int64  `json:"server_time"` // Unix milliseconds
}

// onPing answers a ping with a pong carrying the server's time, or with
// rate_limited once the sender is over its ping bucket.
func (g *Gateway) onPing(c *conn, id string) {
	now := g.now()
	if !g.limits.allowClass(c.party.ID, c.viewer.Identity.UserID, classPing, now) {
		g.reply(c, errorFrame{Type: "error", ID: id, Code: CodeRateLimited, Message: "too many pings; slow down"})
		return
	}
	g.reply(c, pongFrame{Type: "pong", ID: id, ServerTime: now.UnixMilli()})
}
