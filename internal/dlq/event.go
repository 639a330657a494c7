package dlq

import "github.com/watchparty/watchparty/internal/event"

// deadLetter is an event in a batch's "events": event.EncodeDeadLetter's
// form, SPEC §6.
type deadLetter event.Event

func (d deadLetter) MarshalJSON() ([]byte, error) { return event.EncodeDeadLetter(event.Event(d)) }

func (d *deadLetter) UnmarshalJSON(data []byte) error {
	e, err := event.DecodeDeadLetter(data)
	*d = deadLetter(e)
	return err
}

func deadLetters(es []event.Event) []deadLetter {
	out := make([]deadLetter, len(es))
	for i, e := range es {
		out[i] = deadLetter(e)
	}
	return out
}

func events(ds []deadLetter) []event.Event {
	if ds == nil {
		return nil
	}
	out := make([]event.Event, len(ds))
	for i, d := range ds {
		out[i] = event.Event(d)
	}
	return out
}

// deadLettered returns es as a batch keeps them (event.DeadLetter).
func deadLettered(es []event.Event) []event.Event {
	out := make([]event.Event, len(es))
	for i, e := range es {
		out[i] = event.DeadLetter(e)
	}
	return out
}
