package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/watchparty/watchparty/internal/gateway"
	"github.com/watchparty/watchparty/internal/store"
)

// TestPingAnsweredWithServerTime: a ping is answered with a pong that
// carries its id and the gateway's clock, and stores nothing.
func TestPingAnsweredWithServerTime(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(*gateway.Config) {}))
	party := e.insert("alice", store.Ongoing)
	v := e.mustJoin(party, "bob", nil)
	before := time.Now().UnixMilli()
	if err := v.conn.WriteJSON(map[string]any{"type": "ping", "id": "k1"}); err != nil {
		t.Fatal(err)
	}
	f := v.nextOf("pong", "error", "ack")
	after := time.Now().UnixMilli()
	st, _ := f["server_time"].(float64)
	if f["type"] != "pong" || f["id"] != "k1" || int64(st) < before || int64(st) > after {
		t.Fatalf("answer to a ping: %v; want a pong with id k1 and server_time in [%d, %d]", f, before, after)
	}
	// Nothing was stored: the next chat is the stream's first entry.
	if f := v.send(map[string]any{"type": "chat", "text": "after a ping"}); f["type"] != "ack" {
		t.Fatalf("chat after a ping: %v", f)
	}
}

// TestPingFloodRefused: pings take tokens of a bucket of their own
// (2/s, burst 10): a flood is answered rate_limited, and the connection
// and the other limits are untouched.
func TestPingFloodRefused(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(*gateway.Config) {}))
	party := e.insert("alice", store.Ongoing)
	v := e.mustJoin(party, "bob", nil)
	const flood = 30
	for i := range flood {
		if err := v.conn.WriteJSON(map[string]any{"type": "ping", "id": fmt.Sprint("k", i)}); err != nil {
			t.Fatal(err)
		}
	}
	pongs, refused := 0, 0
	for range flood {
		f := v.nextOf("pong", "error")
		switch {
		case f["type"] == "pong":
			pongs++
		case f["code"] == "rate_limited":
			refused++
		default:
			t.Fatalf("answer to a ping: %v", f)
		}
	}
	// The burst of 10 passes; a token or two may come back during the flood.
	if pongs < 10 || pongs > 13 || refused != flood-pongs {
		t.Fatalf("%d pings at once: %d pongs, %d rate_limited; want about 10 pongs and the rest refused", flood, pongs, refused)
	}
	if f := v.send(map[string]any{"type": "chat", "text": "still connected"}); f["type"] != "ack" {
		t.Fatalf("chat after a ping flood: %v", f)
	}
}

// nextOf returns the next frame whose type is one of types, skipping others.
func (v *viewer) nextOf(types ...string) map[string]any {
	v.t.Helper()
	_ = v.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var f map[string]any
		if err := v.conn.ReadJSON(&f); err != nil {
			v.t.Fatalf("waiting for %v: %v", types, err)
		}
		for _, typ := range types {
			if f["type"] == typ {
				return f
			}
		}
	}
}
