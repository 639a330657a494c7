package gateway

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/pkg/event"
)

// TestLimitersBounded floods the limiters with distinct users within one
// minute: their buckets must stay bounded in number.
func TestLimitersBounded(t *testing.T) {
	l := newLimiters(Config{ChatRate: 1, ChatBurst: 1})
	party := uuid.New()
	now := time.Now()
	const flood = 3 * maxLimiterKeys
	for i := range flood {
		if !l.allow(party, "user-"+strconv.Itoa(i), event.Chat, now) {
			t.Fatalf("first chat of a new user refused")
		}
	}
	if n := l.size(); n > maxLimiterKeys {
		t.Fatalf("%d buckets after %d users; want at most %d", n, flood, maxLimiterKeys)
	}
	// A user still in the cache keeps its limit.
	last := "user-" + strconv.Itoa(flood-1)
	if l.allow(party, last, event.Chat, now) {
		t.Fatalf("second chat at once over a burst of 1 was allowed")
	}
}
