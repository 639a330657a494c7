package event

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// TimeLayout is RFC 3339 with milliseconds, the form of every "ts" and
// "created_at" the system emits.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Encode returns the stream entry form of e (compact JSON).
func Encode(e Event) ([]byte, error) {
	e.StreamID = ""
	e.CreatedAt = Millis(e.CreatedAt)
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return b, nil
}

// Decode parses a stream entry written by Encode and checks the fields every
// event must have. streamID is the entry's id.
func Decode(b []byte, streamID string) (Event, error) {
	e, ok := fastDecode(b)
	if !ok {
		e = Event{}
		if err := json.Unmarshal(b, &e); err != nil {
			return Event{}, fmt.Errorf("decode stream entry %s: %w", streamID, err)
		}
	}
	e.StreamID = streamID
	if err := e.check(); err != nil {
		return Event{}, fmt.Errorf("stream entry %s: %w", streamID, err)
	}
	return e, nil
}

func (e Event) check() error {
	switch {
	case e.ID == uuid.Nil:
		return fmt.Errorf("missing event_id")
	case e.UserID == "" && e.Type != Viewers:
		return fmt.Errorf("missing user_id")
	case e.CreatedAt.IsZero():
		return fmt.Errorf("missing created_at")
	}
	switch e.Type {
	case Chat, Like, Join, Leave:
	case Play, Pause, Seek:
		if e.PositionMS == nil {
			return fmt.Errorf("%s without position_ms", e.Type)
		}
	case Viewers:
		if e.Viewers == nil {
			return fmt.Errorf("viewers event without count")
		}
	default:
		return fmt.Errorf("unknown event type %q", e.Type)
	}
	return nil
}

// Frame is the broadcast form of an event that viewers receive.
type Frame struct {
	Type       Type   `json:"type"`
	EventID    string `json:"event_id"`
	StreamID   string `json:"stream_id"`
	UserID     string `json:"user_id"`
	Name       string `json:"name,omitempty"`
	Text       string `json:"text,omitempty"`
	Likes      *int64 `json:"likes,omitempty"`
	PositionMS *int64 `json:"position_ms,omitempty"`
	TS         string `json:"ts"`
}

// BroadcastFrame encodes the frame viewers receive for e. likes is the
// party's like total after a like event and ignored otherwise.
func BroadcastFrame(e Event, likes int64) ([]byte, error) {
	f := Frame{
		Type:       e.Type,
		EventID:    e.ID.String(),
		StreamID:   e.StreamID,
		UserID:     e.UserID,
		Name:       e.Name,
		Text:       e.Text,
		PositionMS: e.PositionMS,
		TS:         e.CreatedAt.UTC().Format(TimeLayout),
	}
	if e.Type == Like {
		f.Likes = &likes
	}
	return json.Marshal(f)
}

// FormatTime renders t the way frames carry times.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }
