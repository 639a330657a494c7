package e2e

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSlowViewerIsDisconnectedAndOthersKeepUp: a viewer that stops reading
// is dropped and counted as a slow consumer, while another viewer receives
// every event.
func TestSlowViewerIsDisconnectedAndOthersKeepUp(t *testing.T) {
	if testing.Short() {
		t.Skip("floods a viewer until it is dropped; skipped with -short")
	}
	s := sharedSystem(t)
	gw, _ := s.gateway()
	party := s.party("ONGOING", "host")

	// The stuck viewer connects and then never reads again.
	stuck, _, err := websocket.DefaultDialer.Dial(wsURL(gw, party, url.Values{"user": {"stuck"}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	fast := dial(t, gw, party, "fast")
	fast.nextOf("welcome", 5*time.Second)
	talker := dial(t, gw, party, "talker")
	talker.nextOf("welcome", 5*time.Second)

	const total = 20000
	sendErr := make(chan error, 1)
	go func() {
		for i := range total {
			msg := fmt.Sprintf(`{"type":"chat","text":"flood %d with some padding to fill buffers faster"}`, i)
			if err := talker.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- nil
	}()
	got := 0
	deadline := time.Now().Add(60 * time.Second)
	for got < total {
		f := fast.next(time.Until(deadline))
		if f.Type == "chat" {
			got++
		}
	}
	if err := <-sendErr; err != nil {
		t.Fatalf("talker: %v", err)
	}
	eventually(t, 20*time.Second, "the stuck viewer counted as a slow consumer", func() bool {
		return scrapeMetric(t, gw, "watch_party_slow_consumers_total", nil) >= 1
	})
}
