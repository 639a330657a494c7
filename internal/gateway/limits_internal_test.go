package gateway

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
)

// TestLimitersBounded floods the limiters with distinct users within one
// minute: their buckets must stay bounded in number.
func TestLimitersBounded(t *testing.T) {
	l := newLimiters(Config{EventRates: map[string]*RateLimit{"chat": {Rate: 1, Burst: 1}}})
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

// TestEveryInboundTypeHasARateClass: every type a client may send has a
// declared rate class with a limit behind it, and the types ParseInbound
// takes are exactly the inbound ones.
func TestEveryInboundTypeHasARateClass(t *testing.T) {
	specs := classSpecs(Config{})
	for _, typ := range event.Types {
		_, err := event.ParseInbound([]byte(`{"type":"` + string(typ) + `"}`))
		unknown := err != nil && strings.Contains(err.Error(), "unknown type")
		if typ.Inbound() == unknown {
			t.Errorf("%s: Inbound() = %v but ParseInbound says %v", typ, typ.Inbound(), err)
		}
		if !typ.Inbound() {
			continue
		}
		class, ok := classOf(typ)
		if !ok {
			t.Errorf("inbound type %s has no rate class", typ)
			continue
		}
		if _, ok := specs[class]; !ok {
			t.Errorf("rate class %s of %s has no limit", class, typ)
		}
	}
}

// TestLimiterDeniesTypesWithoutARateClass: the limiter's default is to
// refuse, whatever the other limits are.
func TestLimiterDeniesTypesWithoutARateClass(t *testing.T) {
	l := newLimiters(Config{}) // every limit off
	party, now := uuid.New(), time.Now()
	if !l.allow(party, "bob", event.Chat, now) {
		t.Fatalf("chat refused with its limit off")
	}
	for _, typ := range []event.Type{event.Join, event.Leave, event.Viewers, "shrug", ""} {
		if l.allow(party, "bob", typ, now) {
			t.Errorf("%q allowed without a rate class", typ)
		}
	}
}

// TestModerationIsLimited: moderation actions take tokens of one bucket
// per user and party, whichever action.
func TestModerationIsLimited(t *testing.T) {
	l := newLimiters(Config{EventRates: map[string]*RateLimit{"moderation": {Rate: 0.001, Burst: 3}}})
	party, now := uuid.New(), time.Now()
	for _, typ := range []event.Type{event.Delete, event.Kick, event.Ban} {
		if !l.allow(party, "host", typ, now) {
			t.Fatalf("%s within the burst refused", typ)
		}
	}
	if l.allow(party, "host", event.Mute, now) {
		t.Fatalf("fourth action over a burst of 3 allowed")
	}
	if !l.allow(uuid.New(), "host", event.Mute, now) {
		t.Fatalf("an action in another party refused")
	}
}

// TestSharedRatesCoverEveryEventClass: every event rate class with a limit
// is also counted across gateways, at the same rate.
func TestSharedRatesCoverEveryEventClass(t *testing.T) {
	cfg := Config{EventRates: map[string]*RateLimit{}}
	for _, c := range event.RateClasses() {
		cfg.EventRates[c.Name] = &RateLimit{Rate: c.Rate, Burst: c.Burst}
	}
	shared := sharedRates(cfg)
	for _, typ := range event.TypesOf(func(k event.Kind) bool { return k.Rate != nil }) {
		class, _ := classOf(typ)
		r, ok := shared[typ]
		if !ok {
			t.Errorf("%s (class %s) not counted across gateways", typ, class)
			continue
		}
		spec := classSpecs(cfg)[class]
		if r.Class != string(class) || r.Burst != spec.burst || r.Every != time.Duration(float64(time.Second)/spec.rate) {
			t.Errorf("%s: shared %+v, want class %s at %v/s burst %d", typ, r, class, spec.rate, spec.burst)
		}
	}
	if len(sharedRates(Config{})) != 0 {
		t.Errorf("limits that are off are counted across gateways")
	}
}

// TestEveryRouteDeclaresItsLimit: each REST route names the bucket its
// caller takes a token of; only the moderation action takes its own.
func TestEveryRouteDeclaresItsLimit(t *testing.T) {
	l := newLimiters(Config{})
	for _, rt := range (&partyAPI{}).routes() {
		if rt.limit == nil {
			t.Errorf("%s declares no limit", rt.pattern)
			continue
		}
		if b := rt.limit(l); b == nil && rt.pattern != "POST /api/parties/{id}/moderation" {
			t.Errorf("%s takes no token", rt.pattern)
		}
	}
}

func TestAddrGroup(t *testing.T) {
	for _, tt := range []struct {
		addr string
		bits int
		want string
	}{
		{"198.51.100.7", 64, "198.51.100.7"},
		{"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::"},
		{"2001:db8:1:2:ffff::1", 64, "2001:db8:1:2::"},
		{"2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::"},
		{"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6"},
	} {
		if got := addrGroup(netip.MustParseAddr(tt.addr), tt.bits).String(); got != tt.want {
			t.Errorf("addrGroup(%s, %d) = %s, want %s", tt.addr, tt.bits, got, tt.want)
		}
	}
}
