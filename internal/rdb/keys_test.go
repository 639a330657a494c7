package rdb

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestKeysForNamesEveryPartyApart(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	for range 2 { // named, then from the cache
		if got, want := KeysFor(a), nameKeys(a); got != want {
			t.Fatalf("KeysFor(a) = %+v, want %+v", got, want)
		}
		if KeysFor(a).Stream == KeysFor(b).Stream {
			t.Fatal("two parties share a stream key")
		}
	}
	if got, want := KeysFor(a).Stream, "wp:{"+a.String()+"}:events"; got != want {
		t.Errorf("stream key %q, want %q", got, want)
	}
}

func TestAppendKeysFollowTheClientIDGeneration(t *testing.T) {
	p := uuid.New()
	k := cachedKeysFor(p)
	t0 := time.UnixMilli(1_800_000_000_000)
	for _, now := range []time.Time{t0, t0.Add(time.Second), t0.Add(IDGeneration), t0.Add(3 * IDGeneration), t0} {
		want := []any{k.Stream, k.IDsAt(now), k.IDsAt(now.Add(-IDGeneration)), k.Ended, k.Mutes, k.Bans}
		if got := k.appendKeysAt(now).keys; !slices.Equal(got, want) {
			t.Errorf("append keys at %v = %q, want %q", now, got, want)
		}
	}
}

func TestRateKeyNamesClassUserAndWindow(t *testing.T) {
	p := uuid.New()
	if got, want := cachedKeysFor(p).rateKey("chat", "bob", 42), "wp:{"+p.String()+"}:rate:chat:bob:42"; got != want {
		t.Errorf("rate key %q, want %q", got, want)
	}
}
