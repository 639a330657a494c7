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

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
)

// maxLimiterKeys bounds the token buckets kept for each kind of limit. Past
// it the least recently used bucket is dropped: its owner starts again with
// a full burst, which costs at most one burst, while memory stays bounded
// whatever number of users, parties or addresses a flood brings.
const maxLimiterKeys = 100_000

// rateClass names a bucket that inbound frames take tokens of, one per
// user per party: the rate class an event kind declares
// (event.Kind.Rate), or one of the gateway's own below.
type rateClass string

// The gateway's own rate classes, of frames that are no event.
const (
	// classInvalid counts frames refused as invalid_message; past it the
	// connection is closed (1008), so a flood of garbage costs its sender
	// its connection rather than the gateway a reply per frame.
	classInvalid rateClass = "invalid"
	// classPing counts clock-exchange pings (ping.go), which are no event.
	classPing rateClass = "ping"
)

// classOf is the rate class of an inbound frame of type t, as its kind
// declares it. It is the only way an inbound type gets through the
// limiter: a type without one is refused (limiters.allow), and a kind
// clients send cannot be declared without one (event.declare).
func classOf(t event.Type) (rateClass, bool) {
	c, ok := rateClasses[t]
	return c, ok
}

// rateClasses is the rate class of each type clients send, read from the
// kinds' declarations once (the event package is initialised first), not
// for every frame.
var rateClasses = func() map[event.Type]rateClass {
	out := make(map[event.Type]rateClass)
	for _, t := range event.TypesOf(func(k event.Kind) bool { return k.Rate != nil }) {
		if t.Inbound() {
			out[t] = rateClass(t.Kind().Rate.Name)
		}
	}
	return out
}()

// Invalid frames allowed per second per user per party, and at once,
// before the connection is closed.
const (
	invalidFrameRate  = 2
	invalidFrameBurst = 20
)

// classSpecs is each rate class's limit under cfg: every class an event
// kind declares (unlimited unless cfg.EventRates sets it), and the
// gateway's own.
func classSpecs(cfg Config) map[rateClass]rateSpec {
	specs := map[rateClass]rateSpec{
		classInvalid: {invalidFrameRate, invalidFrameBurst},
		classPing:    {pingRate, pingBurst},
	}
	for _, c := range event.RateClasses() {
		var spec rateSpec
		if l := cfg.EventRates[c.Name]; l != nil {
			spec = rateSpec{l.Rate, l.Burst}
		}
		specs[rateClass(c.Name)] = spec
	}
	return specs
}

// sharedRates are the limits of the rate classes that the append script
// counts again across gateways (rdb.Rate), by event type: a user with
// connections on several gateways gets one bucket, not one per gateway.
func sharedRates(cfg Config) map[event.Type]rdb.Rate {
	specs := classSpecs(cfg)
	out := make(map[event.Type]rdb.Rate)
	for _, t := range event.Types {
		class, ok := classOf(t)
		if !ok {
			continue
		}
		if spec := specs[class]; spec.rate > 0 && spec.burst > 0 {
			out[t] = rdb.Rate{Class: string(class), Every: time.Duration(float64(time.Second) / spec.rate), Burst: spec.burst}
		}
	}
	return out
}

// limiters holds this process's token buckets (docs/operations.md,
// "Limits"): inbound frames per rate class per user per party, REST
// requests per user, and joins per user and per client address (IPv6 by
// prefix). The event classes are counted again across pods by the append
// script. It is safe for concurrent use.
type limiters struct {
	events map[rateClass]*buckets[limitKey]
	join   *buckets[string]
	ipJoin *buckets[netip.Addr]
	// REST, per user: reads of parties, writes (create, end, cancel), and
	// chat history reads.
	apiRead, apiWrite, history *buckets[string]
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
	l := &limiters{
		events:   make(map[rateClass]*buckets[limitKey]),
		join:     newBuckets[string](rateSpec{cfg.JoinRate, cfg.JoinBurst}),
		ipJoin:   newBuckets[netip.Addr](rateSpec{cfg.IPJoinRate, cfg.IPJoinBurst}),
		apiRead:  newBuckets[string](rateSpec{cfg.APIReadRate, cfg.APIReadBurst}),
		apiWrite: newBuckets[string](rateSpec{cfg.APIWriteRate, cfg.APIWriteBurst}),
		history:  newBuckets[string](rateSpec{cfg.HistoryRate, cfg.HistoryBurst}),
	}
	for class, spec := range classSpecs(cfg) {
		l.events[class] = newBuckets[limitKey](spec)
	}
	return l
}

// allow takes a token for a frame of type t by user in party, reporting
// false when the user is over its class's limit, and for every type
// without a declared rate class: nothing passes because no rule named it.
func (l *limiters) allow(party uuid.UUID, user string, t event.Type, now time.Time) bool {
	class, ok := classOf(t)
	if !ok {
		return false
	}
	return l.allowClass(party, user, class, now)
}

// allowClass takes a token of user's bucket of class in party; a class
// without buckets refuses.
func (l *limiters) allowClass(party uuid.UUID, user string, class rateClass, now time.Time) bool {
	b, ok := l.events[class]
	if !ok {
		return false
	}
	return b.allow(limitKey{party, user}, now)
}

// retryAfter is the Retry-After of a refusal by class.
func (l *limiters) retryAfter(class rateClass) string {
	if b, ok := l.events[class]; ok {
		return b.retryAfter()
	}
	return "1"
}

// size is the number of buckets held, for tests.
func (l *limiters) size() int {
	n := l.join.lru.Len() + l.ipJoin.lru.Len() + l.apiRead.lru.Len() + l.apiWrite.lru.Len() + l.history.lru.Len()
	for _, b := range l.events {
		n += b.lru.Len()
	}
	return n
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
