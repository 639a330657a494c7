package gateway

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"sync"

	"github.com/watchparty/watchparty/internal/protocol"
)

// conns admits WebSocket connections under WATCH_PARTY_MAX_CONNS and
// WATCH_PARTY_MAX_CONNS_PER_IP, counted on this pod in memory, and then
// WATCH_PARTY_MAX_CONNS_PER_USER, counted across all pods by users. An
// address's entry is removed when its count drops to zero, so the map never
// holds more keys than there are open connections. A cap of 0 is no cap.
// It is safe for concurrent use.
type conns struct {
	maxTotal, maxUser, maxAddr int
	users                      userSlots

	mu     sync.Mutex
	total  int
	byAddr map[netip.Addr]int
}

// userSlots counts each user's connections across all pods
// (presence.Users).
type userSlots interface {
	// Acquire takes a slot for user, reporting false when the user has
	// none left; an error takes none.
	Acquire(ctx context.Context, user string) (bool, error)
	// Release gives back a slot Acquire took.
	Release(user string)
}

// refusal is why a join is refused before the upgrade.
type refusal struct {
	status     int
	code       protocol.Code
	msg        string
	retryAfter string
}

func newConns(cfg Config, users userSlots) *conns {
	return &conns{maxTotal: cfg.MaxConns, maxUser: cfg.MaxConnsPerUser, maxAddr: cfg.MaxConnsPerIP,
		users: users, byAddr: make(map[netip.Addr]int)}
}

// acquire takes a connection slot for user from addr, or says why not:
// first this pod's and the address's, then, only if those are free, one
// of the user's across pods, which asks Redis (within ctx). release gives
// the slots back; call it exactly once when ok (more calls do nothing).
func (c *conns) acquire(ctx context.Context, user string, addr netip.Addr) (release func(), r refusal, ok bool) {
	if r, ok := c.acquireLocal(addr); !ok {
		return nil, r, false
	}
	if c.maxUser > 0 {
		switch ok, err := c.users.Acquire(ctx, user); {
		case err != nil:
			c.releaseLocal(addr)
			return nil, refusal{http.StatusServiceUnavailable, protocol.CodeUnavailable, "redis unavailable; try again", ""}, false
		case !ok:
			c.releaseLocal(addr)
			return nil, refusal{http.StatusTooManyRequests, protocol.CodeRateLimited,
				"too many open connections for this user (at most " + strconv.Itoa(c.maxUser) + "); close one first", "5"}, false
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			c.releaseLocal(addr)
			if c.maxUser > 0 {
				c.users.Release(user)
			}
		})
	}, refusal{}, true
}

// acquireLocal takes this pod's slot and the address's.
func (c *conns) acquireLocal(addr netip.Addr) (refusal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.maxTotal > 0 && c.total >= c.maxTotal:
		return refusal{http.StatusServiceUnavailable, protocol.CodeUnavailable,
			"this server is at its connection limit (" + strconv.Itoa(c.maxTotal) + "); try again", "5"}, false
	case c.maxAddr > 0 && c.byAddr[addr] >= c.maxAddr:
		return refusal{http.StatusTooManyRequests, protocol.CodeRateLimited,
			"too many open connections from this address (at most " + strconv.Itoa(c.maxAddr) + ")", "5"}, false
	}
	c.total++
	c.byAddr[addr]++
	return refusal{}, true
}

func (c *conns) releaseLocal(addr netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if c.byAddr[addr]--; c.byAddr[addr] <= 0 {
		delete(c.byAddr, addr)
	}
}

// refuse answers a join refused before the upgrade with the JSON error
// body, and Retry-After when there is one.
func refuse(w http.ResponseWriter, r refusal) {
	if r.retryAfter != "" {
		w.Header().Set("Retry-After", r.retryAfter)
	}
	writeError(w, r.status, r.code, r.msg)
}
