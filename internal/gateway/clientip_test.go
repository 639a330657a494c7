package gateway

import (
	"net/http/httptest"
	"testing"
)

func TestClientAddr(t *testing.T) {
	tests := []struct {
		name    string
		trusted string
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies trusted: header ignored", "", "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"untrusted peer: header ignored", "10.0.0.0/8", "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"trusted peer, one hop", "10.0.0.0/8", "10.1.2.3:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"forged left entries are skipped", "10.0.0.0/8", "10.1.2.3:4000", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"chain of trusted proxies", "10.0.0.0/8", "10.1.2.3:4000", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several headers", "10.0.0.0/8", "10.1.2.3:4000", []string{"1.1.1.1", "198.51.100.1, 10.0.0.1"}, "198.51.100.1"},
		{"all trusted: leftmost", "10.0.0.0/8", "10.1.2.3:4000", []string{"10.0.0.7, 10.0.0.8"}, "10.0.0.7"},
		{"trusted peer, no header", "10.0.0.0/8", "10.1.2.3:4000", nil, "10.1.2.3"},
		{"garbage stops the walk", "10.0.0.0/8", "10.1.2.3:4000", []string{"198.51.100.1, nonsense"}, "10.1.2.3"},
		{"ipv6 client with port", "10.0.0.0/8", "10.1.2.3:4000", []string{"[2001:db8::1]:555"}, "2001:db8::1"},
		{"ipv6 proxy", "fd00::/8", "[fd00::1]:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"single trusted address", "10.1.2.3", "10.1.2.3:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"v4-mapped peer", "10.0.0.0/8", "[::ffff:10.1.2.3]:4000", []string{"198.51.100.1"}, "198.51.100.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trusted, err := ParseCIDRs(tt.trusted)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/ws/parties/x", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, trusted).String(); got != tt.want {
				t.Errorf("clientAddr = %s, want %s", got, tt.want)
			}
		})
	}
}
