package gateway

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// restDeadlines bounds every request but WebSocket upgrades: the body must
// arrive within read and the answer be written within write of the
// handler's start, and the request's context ends at write so the work
// behind it stops too. They are per-request deadlines (through
// http.ResponseController) rather than http.Server's ReadTimeout and
// WriteTimeout, which would also be armed on the connection of a
// WebSocket upgrade; WebSocket connections keep no deadline once upgraded.
//
// The deadlines are left in place when the handler returns: the server
// still drains an unread body then, and must not wait for it forever. The
// server arms a fresh read deadline for a kept-alive connection's next
// request (ReadHeaderTimeout, IdleTimeout); the write deadline is set
// again by the next request here, or cleared for an upgrade.
func restDeadlines(read, write time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if strings.HasPrefix(r.URL.Path, "/ws/") {
			_ = rc.SetWriteDeadline(time.Time{}) // left by an earlier request on this connection
			next.ServeHTTP(w, r)
			return
		}
		now := time.Now()
		_ = rc.SetReadDeadline(now.Add(read))
		_ = rc.SetWriteDeadline(now.Add(write))
		ctx, cancel := context.WithTimeout(r.Context(), write)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
