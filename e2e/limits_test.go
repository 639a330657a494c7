package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/watchparty/watchparty/internal/testenv"
)

// TestGatewayRefusesBadLimits starts the gateway binary with one bad limit
// setting at a time: it must exit non-zero at once, naming the variable.
func TestGatewayRefusesBadLimits(t *testing.T) {
	t.Parallel()
	base := []string{"REDIS_URL=redis://127.0.0.1:1/0", "DATABASE_URL=postgres://x@127.0.0.1:1/x",
		"GATEWAY_ADDR=127.0.0.1:0", "LOG_FORMAT=json"}
	for _, tc := range []struct{ name, env, want string }{
		{"short secret", "WATCH_PARTY_AUTH_SECRET=change-me", "WATCH_PARTY_AUTH_SECRET"},
		{"31-byte secret", "WATCH_PARTY_AUTH_SECRET=" + strings.Repeat("x", 31), "WATCH_PARTY_AUTH_SECRET"},
		{"negative pod cap", "WATCH_PARTY_MAX_CONNS=-1", "WATCH_PARTY_MAX_CONNS"},
		{"bad trusted proxies", "WATCH_PARTY_TRUSTED_PROXIES=10.0.0.0/8,lb", "WATCH_PARTY_TRUSTED_PROXIES"},
		{"unparsable timeout", "WATCH_PARTY_HTTP_READ_TIMEOUT=soon", "WATCH_PARTY_HTTP_READ_TIMEOUT"},
		{"zero write timeout", "WATCH_PARTY_HTTP_WRITE_TIMEOUT=0s", "WATCH_PARTY_HTTP_WRITE_TIMEOUT"},
		{"playback rate without burst", "WATCH_PARTY_PLAYBACK_BURST=0", "WATCH_PARTY_PLAYBACK_BURST"},
		{"zero party length", "WATCH_PARTY_MAX_PARTY_DURATION=0s", "WATCH_PARTY_MAX_PARTY_DURATION"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := append([]string{"WATCH_PARTY_DEV_AUTH=true"}, base...)
			if strings.HasPrefix(tc.env, "WATCH_PARTY_AUTH_SECRET=") {
				env = append([]string{"WATCH_PARTY_DEV_AUTH=false"}, base...)
			}
			p := testenv.StartProc(t, "gateway", append(env, tc.env))
			code, err := p.Wait(20 * time.Second)
			if err != nil || code == 0 {
				t.Fatalf("gateway with %s: exit %d, %v; want a non-zero exit\n%s", tc.env, code, err, p.Output())
			}
			if !strings.Contains(p.Output(), tc.want) {
				t.Fatalf("gateway with %s said %q; want it to name %s", tc.env, p.Output(), tc.want)
			}
		})
	}
}
