package dlq

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/pkg/event"
)

// Event is one event of a dead-letter batch, in exactly the SPEC §6 form:
// type, event_id, party_id, user_id and created_at, plus text (chat),
// position_ms (play, pause, seek) or viewers (viewer count), and stream_id.
type Event struct {
	Type       event.Type
	EventID    uuid.UUID
	PartyID    uuid.UUID
	UserID     string
	CreatedAt  time.Time
	Text       string // chat only
	PositionMS *int64 // play, pause and seek only
	Viewers    *int   // viewers only
	StreamID   string
}

type wireEvent struct {
	Type       event.Type `json:"type"`
	EventID    uuid.UUID  `json:"event_id"`
	PartyID    uuid.UUID  `json:"party_id"`
	UserID     string     `json:"user_id"`
	CreatedAt  string     `json:"created_at"`
	Text       *string    `json:"text,omitempty"`
	PositionMS *int64     `json:"position_ms,omitempty"`
	Viewers    *int       `json:"viewers,omitempty"`
	StreamID   string     `json:"stream_id"`
}

// FromEvent returns the dead-letter form of e; its sender's display name is
// not kept.
func FromEvent(e event.Event) Event {
	return Event{Type: e.Type, EventID: e.ID, PartyID: e.PartyID, UserID: e.UserID,
		CreatedAt: event.Millis(e.CreatedAt), Text: e.Text, PositionMS: e.PositionMS,
		Viewers: e.Viewers, StreamID: e.StreamID}
}

// FromEvents converts a batch with FromEvent.
func FromEvents(es []event.Event) []Event {
	out := make([]Event, len(es))
	for i, e := range es {
		out[i] = FromEvent(e)
	}
	return out
}

// ToEvent returns the event the writer stores.
func (e Event) ToEvent() event.Event {
	return event.Event{Type: e.Type, ID: e.EventID, PartyID: e.PartyID, UserID: e.UserID,
		CreatedAt: e.CreatedAt, Text: e.Text, PositionMS: e.PositionMS, Viewers: e.Viewers,
		StreamID: e.StreamID}
}

// MarshalJSON writes the SPEC §6 form: only the type's own extra field,
// created_at in RFC 3339 with milliseconds.
func (e Event) MarshalJSON() ([]byte, error) {
	w := wireEvent{Type: e.Type, EventID: e.EventID, PartyID: e.PartyID, UserID: e.UserID,
		CreatedAt: event.FormatTime(e.CreatedAt), StreamID: e.StreamID}
	switch {
	case e.Type == event.Chat:
		w.Text = &e.Text
	case e.Type.IsPlayback():
		w.PositionMS = e.PositionMS
	case e.Type == event.Viewers:
		w.Viewers = e.Viewers
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the SPEC §6 form, ignoring fields it does not know.
func (e *Event) UnmarshalJSON(data []byte) error {
	var w wireEvent
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	created, err := time.Parse(time.RFC3339Nano, w.CreatedAt)
	if err != nil {
		return fmt.Errorf("event %s: created_at: %w", w.EventID, err)
	}
	*e = Event{Type: w.Type, EventID: w.EventID, PartyID: w.PartyID, UserID: w.UserID,
		CreatedAt: created, PositionMS: w.PositionMS, Viewers: w.Viewers, StreamID: w.StreamID}
	if w.Text != nil {
		e.Text = *w.Text
	}
	return nil
}
