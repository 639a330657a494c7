// Package event defines a party event — what viewers send, what the stream
// holds and what the flusher writes — and its wire encodings.
package event

import (
	"crypto/sha1"
	"time"

	"github.com/google/uuid"
)

// Type names a kind of event. The names are the SPEC's and appear in frames,
// stream entries, DLQ documents and metric labels.
type Type string

// The event types.
const (
	Chat    Type = "chat"
	Like    Type = "like"
	Play    Type = "play"
	Pause   Type = "pause"
	Seek    Type = "seek"
	Join    Type = "join"
	Leave   Type = "leave"
	Viewers Type = "viewers"

	// Moderation, by the party's host or a moderator it appointed (the
	// event's user). Each is broadcast, in stream order, and stored as a
	// log row; the gateway applies it to the party's moderation state in
	// the same atomic append (internal/moderation).
	Delete          Type = "delete"           // hides the chat TargetEvent
	Mute            Type = "mute"             // refuses Target's chats until Until
	Unmute          Type = "unmute"           // ends Target's mute
	Kick            Type = "kick"             // closes Target's connections to the party
	Ban             Type = "ban"              // kick, and joins by Target refused
	Unban           Type = "unban"            // lets Target join again
	ModeratorAdd    Type = "moderator_add"    // Target may moderate (host only)
	ModeratorRemove Type = "moderator_remove" // Target no longer moderates (host only)
)

// kind is what events of one type carry beyond the fields every event has,
// and where they go.
type kind struct {
	payload   []field // the fields only this type carries
	missing   string  // when set, the payload is required and this says it is missing
	broadcast bool    // viewers receive these events as frames
	anonymous bool    // no user_id: the gateway's own samples
	inbound   bool    // clients send these as frames (ParseInbound)
}

// kinds is the one list of event types.
var kinds = map[Type]kind{
	Chat:    {payload: []field{textField}, broadcast: true, inbound: true},
	Like:    {payload: []field{likeTotalField}, broadcast: true, inbound: true},
	Play:    {payload: []field{positionField}, missing: "play without position_ms", broadcast: true, inbound: true},
	Pause:   {payload: []field{positionField}, missing: "pause without position_ms", broadcast: true, inbound: true},
	Seek:    {payload: []field{positionField}, missing: "seek without position_ms", broadcast: true, inbound: true},
	Join:    {},
	Leave:   {},
	Viewers: {payload: []field{viewersField}, missing: "viewers event without count", anonymous: true},

	Delete:          {payload: []field{targetEventField}, missing: "delete without target_event_id", broadcast: true, inbound: true},
	Mute:            {payload: []field{targetField, untilField}, missing: "mute without target_user_id or until", broadcast: true, inbound: true},
	Unmute:          {payload: []field{targetField}, missing: "unmute without target_user_id", broadcast: true, inbound: true},
	Kick:            {payload: []field{targetField}, missing: "kick without target_user_id", broadcast: true, inbound: true},
	Ban:             {payload: []field{targetField}, missing: "ban without target_user_id", broadcast: true, inbound: true},
	Unban:           {payload: []field{targetField}, missing: "unban without target_user_id", broadcast: true, inbound: true},
	ModeratorAdd:    {payload: []field{targetField}, missing: "moderator_add without target_user_id", broadcast: true, inbound: true},
	ModeratorRemove: {payload: []field{targetField}, missing: "moderator_remove without target_user_id", broadcast: true, inbound: true},
}

// Types lists every event type, for metrics that are initialised per type.
var Types = []Type{Chat, Like, Play, Pause, Seek, Join, Leave, Viewers,
	Delete, Mute, Unmute, Kick, Ban, Unban, ModeratorAdd, ModeratorRemove}

// ModerationTypes lists the moderation event types.
var ModerationTypes = []Type{Delete, Mute, Unmute, Kick, Ban, Unban, ModeratorAdd, ModeratorRemove}

// IsPlayback reports whether t changes the party's playback state.
func (t Type) IsPlayback() bool { return kinds[t].carries(positionField) }

// IsModeration reports whether t is a moderation action.
func (t Type) IsModeration() bool {
	return kinds[t].carries(targetField) || kinds[t].carries(targetEventField)
}

func (k kind) carries(f field) bool {
	for _, p := range k.payload {
		if p.key == f.key {
			return true
		}
	}
	return false
}

// Inbound reports whether clients send events of type t as frames.
func (t Type) Inbound() bool { return kinds[t].inbound }

// Broadcast reports whether viewers see events of type t as frames.
func (t Type) Broadcast() bool { return kinds[t].broadcast }

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
	Text       string // chat
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
