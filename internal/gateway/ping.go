package gateway

import (
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/protocol"
)

// pingType is the clock-exchange frame (docs/protocol.md, "Clock"): not an
// event, nothing is stored or broadcast; the gateway answers it at once with
// its own time, so a client can measure its clock's offset NTP-style.
const pingType event.Type = protocol.FramePing

// Pings allowed per second per user per party, and at once. A client takes
// a handful of samples on joining and one now and then after.
const (
	pingRate  = 2
	pingBurst = 10
)

// onPing answers a ping with a pong carrying the server's time, or with
// rate_limited once the sender is over its ping bucket.
func (g *Gateway) onPing(c *conn, id string) {
	now := g.now()
	if !g.limits.allowClass(c.party.ID, c.viewer.Identity.UserID, classPing, now) {
		g.reply(c, protocol.NewError(id, protocol.CodeRateLimited, "too many pings; slow down"))
		return
	}
	g.reply(c, protocol.NewPong(id, now.UnixMilli()))
}
