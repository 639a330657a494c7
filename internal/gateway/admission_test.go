package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeSlots is userSlots answering full or err, recording its calls.
type fakeSlots struct {
	full bool
	err  error

	mu                 sync.Mutex
	acquired, released []string
}

func (f *fakeSlots) Acquire(_ context.Context, user string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acquired = append(f.acquired, user)
	return !f.full && f.err == nil, f.err
}

func (f *fakeSlots) Release(user string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, user)
}

// TestConnsRefusals: this pod's and the address's caps are checked in
// memory before the user's slot is asked of Redis, and a join refused
// after that gives its local slots back.
func TestConnsRefusals(t *testing.T) {
	addr := netip.MustParseAddr("198.51.100.7")
	tests := []struct {
		name       string
		cfg        Config
		held       int   // connections of other users from addr, held before
		full       bool  // the user has no slot left across pods
		err        error // Redis fails
		wantStatus int
		wantCode   string
		wantMsg    string
		wantAsked  []string // users asked of Redis, after those held
	}{
		{"pod full", Config{MaxConns: 1, MaxConnsPerUser: 5}, 1, false, nil,
			http.StatusServiceUnavailable, "unavailable", "connection limit", nil},
		{"address full", Config{MaxConnsPerIP: 1, MaxConnsPerUser: 5}, 1, false, nil,
			http.StatusTooManyRequests, "rate_limited", "from this address", nil},
		{"user full across pods", Config{MaxConns: 2, MaxConnsPerIP: 2, MaxConnsPerUser: 5}, 1, true, nil,
			http.StatusTooManyRequests, "rate_limited", "for this user (at most 5)", []string{"bob"}},
		{"redis fails", Config{MaxConns: 2, MaxConnsPerIP: 2, MaxConnsPerUser: 5}, 1, false, errors.New("dial tcp: refused"),
			http.StatusServiceUnavailable, "unavailable", "redis unavailable; try again", []string{"bob"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			slots := &fakeSlots{}
			c := newConns(tc.cfg, slots)
			for range tc.held {
				if _, r, ok := c.acquire(context.Background(), "other", addr); !ok {
					t.Fatalf("held connection refused: %+v", r)
				}
			}
			slots.full, slots.err, slots.acquired = tc.full, tc.err, nil
			release, r, ok := c.acquire(context.Background(), "bob", addr)
			if ok {
				release()
				t.Fatal("join admitted, want refused")
			}
			if r.status != tc.wantStatus || r.code.String() != tc.wantCode || !strings.Contains(r.msg, tc.wantMsg) {
				t.Errorf("refusal %d %s %q, want %d %s containing %q", r.status, r.code, r.msg, tc.wantStatus, tc.wantCode, tc.wantMsg)
			}
			if diff := cmp.Diff(tc.wantAsked, slots.acquired); diff != "" {
				t.Errorf("users asked of Redis (-want +got):\n%s", diff)
			}
			if c.total != tc.held || c.byAddr[addr] != tc.held {
				t.Errorf("after the refusal %d held on the pod, %d from the address; want the %d held before",
					c.total, c.byAddr[addr], tc.held)
			}
		})
	}
}

// TestConnsReleaseOnce: release gives back the local slots and the user's
// slot once, however often it is called; with no user cap, Redis is never
// asked.
func TestConnsReleaseOnce(t *testing.T) {
	addr := netip.MustParseAddr("2001:db8::1")
	for _, tc := range []struct {
		name    string
		perUser int
		want    []string
	}{{"user cap", 2, []string{"bob"}}, {"no user cap", 0, nil}} {
		t.Run(tc.name, func(t *testing.T) {
			slots := &fakeSlots{}
			c := newConns(Config{MaxConns: 1, MaxConnsPerIP: 1, MaxConnsPerUser: tc.perUser}, slots)
			release, r, ok := c.acquire(context.Background(), "bob", addr)
			if !ok {
				t.Fatalf("join refused: %+v", r)
			}
			release()
			release()
			if diff := cmp.Diff(tc.want, slots.acquired); diff != "" {
				t.Errorf("acquired (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, slots.released); diff != "" {
				t.Errorf("released (-want +got):\n%s", diff)
			}
			if c.total != 0 || len(c.byAddr) != 0 {
				t.Errorf("after release: %d held on the pod, addresses %v; want none", c.total, c.byAddr)
			}
			if _, r, ok := c.acquire(context.Background(), "carol", addr); !ok {
				t.Errorf("join after the release refused: %+v", r)
			}
		})
	}
}
