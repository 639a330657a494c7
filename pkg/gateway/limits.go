package gateway

import (
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/watchparty/watchparty/pkg/event"
)

// maxLimiterKeys bounds the token buckets kept for each kind of limit. Past
// it the least recently used bucket is dropped: its owner starts again with
// a full burst, which costs at most one burst, while memory stays bounded
// whatever number of users, parties or addresses a flood brings.
const maxLimiterKeys = 100_000

// limiters holds this process's token buckets (README "Limits": counted
// per gateway pod): chat, like and playback events per user per party, and
// joins per user and per client address. It is safe for concurrent use.
type limiters struct {
	chat, like, playback *buckets[limitKey]
	join                 *buckets[string]
	ipJoin               *buckets[netip.Addr]
}

type rateSpec struct {
	rate  float64
	burst int
}

type limitKey struct {
	party uuid.UUID
	user  string
}

func newLimiters(cfg Config) *limiters {
	return &limiters{
		chat:     newBuckets[limitKey](rateSpec{cfg.ChatRate, cfg.ChatBurst}),
		like:     newBuckets[limitKey](rateSpec{cfg.LikeRate, cfg.LikeBurst}),
		playback: newBuckets[limitKey](rateSpec{cfg.PlaybackRate, cfg.PlaybackBurst}),
		join:     newBuckets[string](rateSpec{cfg.JoinRate, cfg.JoinBurst}),
		ipJoin:   newBuckets[netip.Addr](rateSpec{cfg.IPJoinRate, cfg.IPJoinBurst}),
	}
}

// allow takes a token for an event of type t by user in party, reporting
// false when the user is over the limit. play, pause and seek share one
// bucket. Types without a limit always pass.
func (l *limiters) allow(party uuid.UUID, user string, t event.Type, now time.Time) bool {
	switch {
	case t == event.Chat:
		return l.chat.allow(limitKey{party, user}, now)
	case t == event.Like:
		return l.like.allow(limitKey{party, user}, now)
	case t.IsPlayback():
		return l.playback.allow(limitKey{party, user}, now)
	}
	return true
}

// size is the number of buckets held, for tests.
func (l *limiters) size() int {
	return l.chat.lru.Len() + l.like.lru.Len() + l.playback.lru.Len() + l.join.lru.Len() + l.ipJoin.lru.Len()
}

// buckets is one limit's token buckets by key, at most maxLimiterKeys.
type buckets[K comparable] struct {
	spec rateSpec
	mu   sync.Mutex // makes get-or-create one step
	lru  *lru.Cache[K, *rate.Limiter]
}

func newBuckets[K comparable](spec rateSpec) *buckets[K] {
	c, _ := lru.New[K, *rate.Limiter](maxLimiterKeys) // fails only for a size <= 0
	return &buckets[K]{spec: spec, lru: c}
}

// allow takes a token of k's bucket; with a rate of 0 it always passes.
func (b *buckets[K]) allow(k K, now time.Time) bool {
	if b.spec.rate <= 0 {
		return true
	}
	b.mu.Lock()
	lim, ok := b.lru.Get(k)
	if !ok {
		lim = rate.NewLimiter(rate.Limit(b.spec.rate), b.spec.burst)
		b.lru.Add(k, lim)
	}
	b.mu.Unlock()
	return lim.AllowN(now, 1)
}

// retryAfter is the Retry-After header value for a refusal: the seconds one
// token takes to come back.
func (b *buckets[K]) retryAfter() string {
	if b.spec.rate <= 0 {
		return "1"
	}
	return strconv.Itoa(int(math.Ceil(1 / b.spec.rate)))
}
