package gateway

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// originAllowed applies WATCH_PARTY_ALLOWED_ORIGINS: a request without an
// Origin header (not a browser) passes; otherwise the origin must be listed,
// "*" must be listed, or, with no list, it must be the request's own host.
func originAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if len(allowed) == 0 {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	return slices.Contains(allowed, "*") || slices.ContainsFunc(allowed, func(o string) bool {
		return strings.EqualFold(o, strings.TrimRight(origin, "/"))
	})
}
