package gateway

import (
	"net/http"

	"github.com/watchparty/watchparty/internal/protocol"
)

// CORS answers for the REST API (SPEC §2 WATCH_PARTY_ALLOWED_ORIGINS).
const (
	corsMethods = "GET, POST, OPTIONS"
	corsHeaders = "Authorization, Content-Type"
	corsMaxAge  = "600" // seconds a browser may cache a preflight answer
)

// cors lets browsers on allowed origins call next: a request whose Origin
// is not allowed gets 403 forbidden, one without Origin (not a browser)
// passes, and OPTIONS is answered here with 204, before authentication,
// since browsers send preflights without credentials. origins is
// Config.Origins(): empty means same origin only, "*" any origin.
func cors(origins []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		if !originAllowed(r, origins) {
			writeError(w, http.StatusForbidden, protocol.CodeForbidden, "origin not allowed")
			return
		}
		origin := r.Header.Get("Origin")
		if origin != "" {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		if r.Method != http.MethodOptions {
			if origin != "" {
				h.Set("Access-Control-Expose-Headers", "Location")
			}
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Allow", corsMethods)
		if origin != "" {
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
