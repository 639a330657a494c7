package gateway

import (
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/watchparty/watchparty/pkg/event"
)

// limiters holds the chat and like token buckets of each user of each
// party on this process (SPEC §2: counted per gateway pod). Buckets idle for
// a while are dropped. It is safe for concurrent use.
type limiters struct {
	chat, like rateSpec

	mu      sync.Mutex
	buckets map[limitKey]*bucket
	swept   time.Time
}

type rateSpec struct {
	rate  float64
	burst int
}

type limitKey struct {
	party uuid.UUID
	user  string
	typ   event.Type
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

func newLimiters(cfg Config) *limiters {
	return &limiters{chat: rateSpec{cfg.ChatRate, cfg.ChatBurst}, like: rateSpec{cfg.LikeRate, cfg.LikeBurst},
		buckets: make(map[limitKey]*bucket)}
}

// allow takes a token for an event of type t by user in party, reporting
// false when the user is over the limit. Types without a limit always pass.
func (l *limiters) allow(party uuid.UUID, user string, t event.Type, now time.Time) bool {
	spec := l.chat
	switch t {
	case event.Chat:
	case event.Like:
		spec = l.like
	default:
		return true
	}
	if spec.rate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := limitKey{party, user, t}
	b, ok := l.buckets[k]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(spec.rate), spec.burst)}
		l.buckets[k] = b
	}
	b.used = now
	if now.Sub(l.swept) > time.Minute {
		l.sweepLocked(now)
	}
	return b.lim.AllowN(now, 1)
}

func (l *limiters) sweepLocked(now time.Time) {
	l.swept = now
	for k, b := range l.buckets {
		if now.Sub(b.used) > 5*time.Minute {
			delete(l.buckets, k)
		}
	}
}
