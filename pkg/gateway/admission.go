package gateway

import (
	"net/http"
	"net/netip"
	"strconv"
	"sync"
)

// conns counts this pod's open WebSocket connections, in all and per user
// and per client address, to enforce WATCH_PARTY_MAX_CONNS,
// WATCH_PARTY_MAX_CONNS_PER_USER and WATCH_PARTY_MAX_CONNS_PER_IP. An
// entry is removed when its count drops to zero, so the maps never hold
// more keys than there are open connections. A cap of 0 is no cap. It is
// safe for concurrent use.
type conns struct {
	maxTotal, maxUser, maxAddr int

	mu     sync.Mutex
	total  int
	byUser map[string]int
	byAddr map[netip.Addr]int
}

// refusal is why a join is refused before the upgrade.
type refusal struct {
	status     int
	code, msg  string
	retryAfter string
}

func newConns(cfg Config) *conns {
	return &conns{maxTotal: cfg.MaxConns, maxUser: cfg.MaxConnsPerUser, maxAddr: cfg.MaxConnsPerIP,
		byUser: make(map[string]int), byAddr: make(map[netip.Addr]int)}
}

// acquire takes a connection slot for user from addr, or says why not.
// release gives the slot back; call it exactly once when ok.
func (c *conns) acquire(user string, addr netip.Addr) (release func(), r refusal, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.maxTotal > 0 && c.total >= c.maxTotal:
		return nil, refusal{http.StatusServiceUnavailable, CodeUnavailable,
			"this server is at its connection limit (" + strconv.Itoa(c.maxTotal) + "); try again", "5"}, false
	case c.maxUser > 0 && c.byUser[user] >= c.maxUser:
		return nil, refusal{http.StatusTooManyRequests, CodeRateLimited,
			"too many open connections for this user (at most " + strconv.Itoa(c.maxUser) + "); close one first", "5"}, false
	case c.maxAddr > 0 && c.byAddr[addr] >= c.maxAddr:
		return nil, refusal{http.StatusTooManyRequests, CodeRateLimited,
			"too many open connections from this address (at most " + strconv.Itoa(c.maxAddr) + ")", "5"}, false
	}
	c.total++
	c.byUser[user]++
	c.byAddr[addr]++
	var once sync.Once
	return func() { once.Do(func() { c.release(user, addr) }) }, refusal{}, true
}

func (c *conns) release(user string, addr netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if c.byUser[user]--; c.byUser[user] <= 0 {
		delete(c.byUser, user)
	}
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
