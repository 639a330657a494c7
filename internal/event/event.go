// Package event defines a party event — what viewers send, what the stream
// holds and what the flusher writes — and its wire encodings.
package event

import (
	"crypto/sha1"
	"time"

	"github.com/google/uuid"
)

// Type names a kind of event. The names are the SPEC's and appear in frames,
// stream entries, DLQ documents and metric labels. Each type is declared,
// with everything about it, by a Kind (kind.go) in a file of its own.
type Type string

// Event is one accepted party event. CreatedAt is when the gateway accepted
// it, to the millisecond; it becomes the row's created_at.
//
// Its encodings (stream entry, dead-letter event, frame) are declared once,
// field by field, in fields.go.
type Event struct {
	Type       Type
	ID         uuid.UUID
	PartyID    uuid.UUID
	UserID     string
	Name       string // display name; frames show it, the database does not keep it
	CreatedAt  time.Time
	Text       string // the text its kind carries: a chat's body
	PositionMS *int64 // play, pause and seek
	Viewers    *int   // viewer-count samples
	// Target is the user a moderation action (but delete) acts on;
	// TargetEvent the chat a delete hides; Until when a mute ends.
	Target      string
	TargetEvent uuid.UUID
	Until       time.Time
	// StreamID is the Redis stream entry id; empty until the event is stored.
	StreamID string
}

// idNamespace scopes event ids derived from client message ids.
var idNamespace = uuid.MustParse("6f6a0a3e-3c1b-4f7e-9a43-7d0f7a1f5e21")

// NewID returns the id of an event. With a client message id the result is
// derived from party, user and that id, so a resend is the same event;
// without one it is a fresh time-ordered UUIDv7.
func NewID(party uuid.UUID, user, clientID string) uuid.UUID {
	if clientID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return uuid.New()
		}
		return id
	}
	// uuid.NewSHA1(idNamespace, party, user and clientID joined by NULs),
	// hashed from a buffer on the stack: the id of every frame with a
	// client id is derived here, and NewSHA1 allocated five times for it.
	var buf [160]byte
	name := append(buf[:0], idNamespace[:]...)
	name = appendUUID(name, party)
	name = append(append(append(append(name, 0), user...), 0), clientID...)
	sum := sha1.Sum(name)
	var id uuid.UUID
	copy(id[:], sum[:])
	id[6] = id[6]&0x0f | 0x50 // version 5
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id
}

// Millis truncates t to the millisecond in UTC, the precision events keep.
func Millis(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
