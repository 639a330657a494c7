package e2e

import (
	"fmt"
	"net/url"
	"testing"
	"time"
)

// TestReconnectWithSinceReceivesMissedEvents: a viewer that reconnects with
// the last stream_id it saw first receives every event it missed, in order,
// then live ones; once missed events are trimmed it is told resumed=false.
func TestReconnectWithSinceReceivesMissedEvents(t *testing.T) {
	s := sharedSystem(t)
	gw, _ := s.gateway()
	party := s.party("ONGOING", "host")
	talker := dial(t, gw, party, "talker")
	talker.nextOf("welcome", 5*time.Second)
	chat := func(text string) string {
		t.Helper()
		talker.send(map[string]any{"type": "chat", "text": text})
		return talker.nextOf("ack", 5*time.Second).StreamID
	}

	v := dial(t, gw, party, "v")
	v.nextOf("welcome", 5*time.Second)
	chat("seen 1")
	last := v.nextOf("chat", 5*time.Second).StreamID
	_ = v.conn.Close()
	var missed []string
	for i := range 5 {
		missed = append(missed, chat(fmt.Sprintf("missed %d", i)))
	}

	back, _, err := tryDial(t, wsURL(gw, party, url.Values{"user": {"v"}, "since": {last}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	back.user = "v"
	w := back.nextOf("welcome", 5*time.Second)
	if w.Resumed == nil || !*w.Resumed {
		t.Fatalf("welcome %s, want resumed=true", w.Raw)
	}
	live := chat("live")
	for _, want := range append(missed, live) {
		if f := back.nextOf("chat", 5*time.Second); f.StreamID != want {
			t.Fatalf("after since got %s, want stream id %s", f.Raw, want)
		}
	}

	// Trim everything that was flushed: a since before the trim is not resumable.
	for i := range 300 {
		chat(fmt.Sprintf("filler %d", i))
	}
	s.flushOnce("WATCH_PARTY_STREAM_RETENTION=0s")
	old, _, err := tryDial(t, wsURL(gw, party, url.Values{"user": {"w"}, "since": {last}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	old.user = "w"
	if w := old.nextOf("welcome", 5*time.Second); w.Resumed == nil || *w.Resumed {
		t.Fatalf("welcome after trimming %s, want resumed=false", w.Raw)
	}
}
