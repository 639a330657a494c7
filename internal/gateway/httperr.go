package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/watchparty/watchparty/internal/protocol"
)

type errorBody struct {
	Error struct {
		Code    protocol.Code `json:"code"`
		Message string        `json:"message"`
	} `json:"error"`
}

// writeError answers an HTTP request with the SPEC's JSON error body.
func writeError(w http.ResponseWriter, status int, code protocol.Code, message string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, message
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
