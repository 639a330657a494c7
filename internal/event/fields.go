package event

import (
	"time"

	"github.com/google/uuid"
)

// An event travels in three JSON encodings, each an object of some of the
// fields below, in its own order:
//
//   - the stream entry (Encode, Decode): what the gateway appends and the
//     flusher reads;
//   - a dead-letter event (EncodeDeadLetter, DecodeDeadLetter): one element
//     of a wp:dlq batch's "events", SPEC §6;
//   - the frame viewers receive (BroadcastFrame), SPEC §3.
//
// This file is the one place that says which key carries which value in
// which encoding; the encoder, both decoders and the fast decoder all read
// it. A field only one kind carries may instead be declared with its kind
// (kind.go): declare adds it to each form, as a payload slot at the end.

// A field is one value of an event under its JSON key. value returns a
// pointer to where the value lives: *Type, *string, *uuid.UUID, *time.Time,
// **int64, **int or *int64.
type field struct {
	key   string
	value func(r *record) any
}

// record is what an encoding reads from or writes to: the event, and for
// frames the party's like total.
type record struct {
	Event
	likes int64
}

var (
	typeField      = field{"type", func(r *record) any { return &r.Type }}
	idField        = field{"event_id", func(r *record) any { return &r.ID }}
	partyField     = field{"party_id", func(r *record) any { return &r.PartyID }}
	userField      = field{"user_id", func(r *record) any { return &r.UserID }}
	nameField      = field{"name", func(r *record) any { return &r.Name }}
	createdField   = field{"created_at", func(r *record) any { return &r.CreatedAt }}
	tsField        = field{"ts", createdField.value} // created_at, as frames name it
	textField      = field{"text", func(r *record) any { return &r.Text }}
	positionField  = field{"position_ms", func(r *record) any { return &r.PositionMS }}
	viewersField   = field{"viewers", func(r *record) any { return &r.Viewers }}
	streamIDField  = field{"stream_id", func(r *record) any { return &r.StreamID }}
	likeTotalField = field{"likes", func(r *record) any { return &r.likes }}

	targetField      = field{"target_user_id", func(r *record) any { return &r.Target }}
	targetEventField = field{"target_event_id", func(r *record) any { return &r.TargetEvent }}
	untilField       = field{"until", func(r *record) any { return &r.Until }}
)

// presence says when a slot's key is written.
type presence uint8

const (
	always  presence = iota
	nonZero          // omitted when empty, zero or nil (omitempty)
	payload          // only for the types whose payload it is (kinds), and then unless nil
)

// A slot is a field at its place in one encoding.
type slot struct {
	field
	when presence
}

// A form is one encoding of an event: its keys in order. Times carry
// exactly three fractional digits (TimeLayout) when millis is set, else
// they take time.Time's own JSON form (RFC 3339, trailing zeros dropped).
type form struct {
	name   string
	slots  []slot
	millis bool
}

var streamForm = form{name: "stream entry", slots: []slot{
	{typeField, always}, {idField, always}, {partyField, always}, {userField, always},
	{nameField, nonZero}, {createdField, always}, {textField, payload},
	{positionField, nonZero}, {viewersField, nonZero},
	{targetField, nonZero}, {targetEventField, nonZero}, {untilField, nonZero},
}}

// deadLetterForm keeps no display name: the writer does not store it.
var deadLetterForm = form{name: "dead-letter event", millis: true, slots: []slot{
	{typeField, always}, {idField, always}, {partyField, always}, {userField, always},
	{createdField, always}, {textField, payload}, {positionField, payload},
	{viewersField, payload}, {targetField, payload}, {targetEventField, payload},
	{untilField, payload}, {streamIDField, always},
}}

var frameForm = form{name: "frame", millis: true, slots: []slot{
	{typeField, always}, {idField, always}, {streamIDField, always}, {userField, always},
	{nameField, nonZero}, {textField, payload}, {likeTotalField, payload},
	{positionField, nonZero}, {targetField, nonZero}, {targetEventField, nonZero},
	{untilField, nonZero}, {tsField, always},
}}

// present reports whether s is written for r.
func (s slot) present(r *record, v any) bool {
	switch s.when {
	case nonZero:
		return !isZero(v)
	case payload:
		k, ok := kinds[r.Type]
		return ok && k.carries(s.field) && !isNil(v)
	}
	return true
}

func isZero(v any) bool {
	switch v := v.(type) {
	case *Type:
		return *v == ""
	case *string:
		return *v == ""
	case *uuid.UUID:
		return *v == uuid.Nil
	case *time.Time:
		return v.IsZero()
	case *int64:
		return *v == 0
	}
	return isNil(v)
}

func isNil(v any) bool {
	switch v := v.(type) {
	case **int64:
		return *v == nil
	case **int:
		return *v == nil
	}
	return false
}

// lookup returns the slot of f with key k. Keys usually come in the form's
// own order, so the slot after the previous one (at hint) is tried first.
func (f *form) lookup(k []byte, hint int) (slot, int, bool) {
	for i := range f.slots {
		j := (hint + i) % len(f.slots)
		if f.slots[j].key == string(k) {
			return f.slots[j], j + 1, true
		}
	}
	return slot{}, hint, false
}
