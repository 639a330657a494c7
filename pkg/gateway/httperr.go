package gateway

import (
	"encoding/json"
	"net/http"
)

// Error codes viewers and API clients see (SPEC §4, §5).
const (
	CodeInvalidRequest = "invalid_request"
	CodeInvalidMessage = "invalid_message"
	CodeUnauthorized   = "unauthorized"
	CodeForbidden      = "forbidden"
	CodeNotFound       = "not_found"
	CodeConflict       = "conflict"
	CodeUnavailable    = "unavailable"
	CodeRateLimited    = "rate_limited"
	CodePartyEnded     = "party_ended"
	CodeMuted          = "muted"
	CodeBanned         = "banned"
)

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError answers an HTTP request with the SPEC's JSON error body.
func writeError(w http.ResponseWriter, status int, code, message string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, message
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
