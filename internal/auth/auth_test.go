package auth

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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

// TestIssueAndSign: the claims a token carries, read back by Parse and as
// raw JSON.
func TestIssueAndSign(t *testing.T) {
	secret := strings.Repeat("s", 32)
	iat := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	exp := iat.Add(24 * time.Hour)
	tests := []struct {
		name  string
		sign  func() (string, error)
		want  Identity
		claim map[string]any
	}{
		{"issue with name", func() (string, error) { return Issue(secret, "bob", "Bob", iat, exp) },
			Identity{UserID: "bob", Name: "Bob", Expires: exp},
			map[string]any{"sub": "bob", "name": "Bob", "iat": float64(iat.Unix()), "exp": float64(exp.Unix())}},
		{"issue without name", func() (string, error) { return Issue(secret, "bob", "", iat, exp) },
			Identity{UserID: "bob", Expires: exp},
			map[string]any{"sub": "bob", "iat": float64(iat.Unix()), "exp": float64(exp.Unix())}},
		{"sign", func() (string, error) { return Sign(secret, "carol", "Carol", exp) },
			Identity{UserID: "carol", Name: "Carol", Expires: exp},
			map[string]any{"sub": "carol", "name": "Carol", "exp": float64(exp.Unix())}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := tt.sign()
			if err != nil {
				t.Fatal(err)
			}
			v, err := NewVerifier(secret, false)
			if err != nil {
				t.Fatal(err)
			}
			v.now = func() time.Time { return iat.Add(time.Hour) }
			got, err := v.Parse(token)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			parts := strings.Split(token, ".")
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			var claims map[string]any
			if err := json.Unmarshal(payload, &claims); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.claim, claims); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}
