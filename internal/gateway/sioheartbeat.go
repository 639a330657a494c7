package gateway

import (
	"sync"
	"time"

	"github.com/watchparty/watchparty/internal/protocol"
	"github.com/watchparty/watchparty/internal/socketio"
)

// heartbeat pings a connection every interval and closes it when a ping
// has no pong within timeout, or when it has not joined a party by its
// first ping.
type heartbeat struct {
	mu       sync.Mutex
	timer    *time.Timer
	waiting  bool
	stopped  bool
	interval time.Duration
	timeout  time.Duration
}

func (h *heartbeat) start(x *sioConn, interval, timeout time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.interval, h.timeout = interval, timeout
	h.timer = time.AfterFunc(interval, func() { h.fire(x) })
}

func (h *heartbeat) fire(x *sioConn) {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return
	}
	switch {
	case h.waiting:
		h.mu.Unlock()
		x.viewer.Close(protocol.CloseGoingAway, protocol.ReasonPingTimeout)
		return
	case !x.joined.Load():
		h.mu.Unlock()
		x.viewer.Close(protocol.ClosePolicy, protocol.ReasonNoConnect)
		return
	}
	h.waiting = true
	h.timer.Reset(h.timeout)
	h.mu.Unlock()
	x.viewer.Send(socketio.Ping)
}

// pong takes a pong and reports whether a ping was waiting for it.
func (h *heartbeat) pong() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.waiting || h.stopped {
		return false
	}
	h.waiting = false
	h.timer.Reset(h.interval)
	return true
}

func (h *heartbeat) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	if h.timer != nil {
		h.timer.Stop()
	}
}
