package auth

import (
	"strings"
	"testing"
)

func TestNewVerifierSecretLength(t *testing.T) {
	tests := []struct {
		name    string
		secret  string
		dev     bool
		wantErr string
	}{
		{"32 bytes", strings.Repeat("s", 32), false, ""},
		{"long", strings.Repeat("s", 64), false, ""},
		{"31 bytes", strings.Repeat("s", 31), false, "at least 32 bytes"},
		{"short with dev auth", "change-me", true, "at least 32 bytes"},
		{"none with dev auth", "", true, ""},
		{"none", "", false, "WATCH_PARTY_AUTH_SECRET is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVerifier(tt.secret, tt.dev)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("NewVerifier: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("NewVerifier: %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}
