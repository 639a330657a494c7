package event

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// TimeLayout is RFC 3339 with milliseconds, the form of every "ts" and
// "created_at" the system emits.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Encode returns the stream entry form of e (compact JSON).
func Encode(e Event) ([]byte, error) {
	b, err := streamForm.encode(make([]byte, 0, 256), &record{Event: e})
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
		r := record{}
		if err := streamForm.decode(b, &r); err != nil {
			return Event{}, fmt.Errorf("decode stream entry %s: %w", streamID, err)
		}
		e = r.Event
	}
	e.StreamID = streamID
	if err := e.check(); err != nil {
		return Event{}, fmt.Errorf("stream entry %s: %w", streamID, err)
	}
	return e, nil
}

func (e Event) check() error {
	k, known := KindOf(e.Type)
	switch {
	case e.ID == uuid.Nil:
		return fmt.Errorf("missing event_id")
	case e.UserID == "" && !k.Anonymous:
		return fmt.Errorf("missing user_id")
	case e.CreatedAt.IsZero():
		return fmt.Errorf("missing created_at")
	case !known:
		return fmt.Errorf("unknown event type %q", e.Type)
	case k.missing != "" && !k.hasPayload(e):
		return errors.New(k.missing)
	}
	return nil
}

// hasPayload reports whether e carries every payload field of its kind.
func (k Kind) hasPayload(e Event) bool {
	r := record{Event: e}
	for _, f := range k.payload {
		if isZero(f.value(&r)) {
			return false
		}
	}
	return true
}

// EncodeDeadLetter returns e as one event of a dead-letter batch, in the
// SPEC §6 form: only the type's own payload, created_at with milliseconds,
// no display name.
func EncodeDeadLetter(e Event) ([]byte, error) {
	b, err := deadLetterForm.encode(make([]byte, 0, 256), &record{Event: e})
	if err != nil {
		return nil, fmt.Errorf("encode dead-letter event %s: %w", e.ID, err)
	}
	return b, nil
}

// DecodeDeadLetter parses an event written by EncodeDeadLetter, ignoring
// keys it does not know. It does not check the event: a replay writes what
// was dead-lettered.
func DecodeDeadLetter(b []byte) (Event, error) {
	var r record
	err := deadLetterForm.decode(b, &r)
	return r.Event, err
}

// DeadLetter returns e as a dead-letter batch keeps it: what
// DecodeDeadLetter returns for EncodeDeadLetter(e).
func DeadLetter(e Event) Event {
	var r record
	b, err := deadLetterForm.encode(nil, &record{Event: e})
	if err == nil {
		err = deadLetterForm.decode(b, &r)
	}
	if err != nil {
		// Only a time that has no RFC 3339 form fails; keep e as it is.
		return e
	}
	return r.Event
}

// BroadcastFrame encodes the frame viewers receive for e. likes is the
// party's like total after a like event and ignored otherwise.
func BroadcastFrame(e Event, likes int64) ([]byte, error) {
	return frameForm.encode(make([]byte, 0, 256), &record{Event: e, likes: likes})
}

// FormatTime renders t the way frames carry times.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }
