package room

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/auth"
	"github.com/watchparty/watchparty/internal/event"
)

func TestDeliveryLatency(t *testing.T) {
	v := NewViewer(nil, uuid.New(), auth.Identity{UserID: "bob"}, 10, 11, nil)
	frame := func(at time.Time) []byte {
		e := event.Event{Type: event.Chat, ID: uuid.New(), UserID: "bob", Text: "hi", CreatedAt: at,
			StreamID: strconv.FormatInt(at.UnixMilli(), 10) + "-3"}
		b, err := event.BroadcastFrame(e, 0)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	live := v.joined.Truncate(time.Millisecond).Add(250 * time.Millisecond)
	now := live.Add(750 * time.Millisecond)
	if d, ok := v.DeliveryLatency(frame(live), now); !ok || d != 750*time.Millisecond {
		t.Errorf("live frame: %v %v, want 750ms true", d, ok)
	}
	if _, ok := v.DeliveryLatency(frame(v.joined.Add(-time.Minute)), now); ok {
		t.Error("an entry from before the viewer joined (a catch-up) counted as a delivery")
	}
	for _, f := range []string{
		`{"type":"ack","id":"c1","event_id":"x","stream_id":"` + strconv.FormatInt(live.UnixMilli(), 10) + `-0"}`,
		`{"type":"welcome","party_id":"x","last_id":"1-0"}`,
		`{"type":"viewers","count":3}`,
		`{"type":"chat","event_id":"x","stream_id":"garbage"}`,
	} {
		if _, ok := v.DeliveryLatency([]byte(f), now); ok {
			t.Errorf("%s counted as a delivery", f)
		}
	}
}
