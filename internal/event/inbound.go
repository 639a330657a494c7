package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits on what a viewer may send.
const (
	MaxClientIDLen = 64
	MaxChatLen     = 500
	MaxPositionMS  = 604_800_000
	MaxUserIDLen   = 128     // as auth accepts
	MaxMuteSeconds = 604_800 // a week
)

// Inbound is a validated client frame.
type Inbound struct {
	Type       Type
	ClientID   string // optional client message id; "" when absent
	Text       string
	PositionMS int64
	// Moderation: the user acted on (all but delete), the chat a delete
	// hides, and a mute's length.
	Target       string
	TargetEvent  uuid.UUID
	MuteDuration time.Duration
}

// InvalidError says why a client frame was refused; its message is safe to
// show the viewer.
type InvalidError struct{ Reason string }

func (e *InvalidError) Error() string { return e.Reason }

func invalid(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
}

// ParseInbound validates a raw client frame. It returns *InvalidError for any
// frame the SPEC calls invalid_message; the client id is returned even then
// when it could be read, so the error frame can name it.
func ParseInbound(raw []byte) (Inbound, error) {
	if !utf8.Valid(raw) {
		return Inbound{}, invalid("frame is not valid UTF-8")
	}
	if typ, id, text, hasID, hasText, ok := fastInbound(raw); ok {
		return checkFast(typ, id, text, hasID, hasText)
	}
	return parseSlow(raw)
}

// parseSlow is ParseInbound for any frame, through encoding/json; raw is
// valid UTF-8.
func parseSlow(raw []byte) (Inbound, error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return Inbound{}, invalid("frame is not a JSON object")
	}
	if dec.More() {
		return Inbound{}, invalid("frame holds more than one JSON value")
	}
	var in Inbound
	if rawID, ok := fields["id"]; ok {
		id, err := stringField(rawID)
		if err != nil || id == "" || utf8.RuneCountInString(id) > MaxClientIDLen {
			return Inbound{}, invalid("id must be a string of 1 to %d characters", MaxClientIDLen)
		}
		in.ClientID = id
	}
	typ, err := stringField(fields["type"])
	if err != nil || typ == "" {
		return in, invalid("type is missing")
	}
	in.Type = Type(typ)
	k, known := kinds[in.Type]
	if !known || k.read == nil {
		return in, invalid("unknown type %q", typ)
	}
	err = k.read(fields, &in)
	return in, err
}

// checkFast applies ParseInbound's rules to a frame fastInbound read.
func checkFast(typ, id, text string, hasID, hasText bool) (Inbound, error) {
	in := Inbound{Type: Type(typ)}
	if hasID {
		if id == "" || utf8.RuneCountInString(id) > MaxClientIDLen {
			return Inbound{}, invalid("id must be a string of 1 to %d characters", MaxClientIDLen)
		}
		in.ClientID = id
	}
	if in.Type == Chat {
		if !hasText {
			return in, invalid("chat needs a text string")
		}
		var err error
		in.Text, err = checkChatText(text)
		return in, err
	}
	return in, nil
}

func stringField(raw json.RawMessage) (string, error) {
	var s string
	if raw == nil {
		return "", fmt.Errorf("missing")
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

func chatText(raw json.RawMessage) (string, error) {
	text, err := stringField(raw)
	if err != nil {
		return "", invalid("chat needs a text string")
	}
	return checkChatText(text)
}

func checkChatText(text string) (string, error) {
	if strings.TrimSpace(text) == "" {
		return "", invalid("chat text is empty")
	}
	if n := utf8.RuneCountInString(text); n > MaxChatLen {
		return "", invalid("chat text is %d characters, over %d", n, MaxChatLen)
	}
	for _, r := range text {
		if unicode.Is(unicode.Cc, r) && r != '\n' && r != '\t' {
			return "", invalid("chat text holds control character %U", r)
		}
	}
	return text, nil
}

func target(raw json.RawMessage) (string, error) {
	user, err := stringField(raw)
	if err != nil || user == "" || len(user) > MaxUserIDLen {
		return "", invalid("target_user_id must be a user id of 1 to %d bytes", MaxUserIDLen)
	}
	return user, nil
}

func targetEvent(raw json.RawMessage) (uuid.UUID, error) {
	s, err := stringField(raw)
	if err != nil {
		return uuid.Nil, invalid("target_event_id must be the event_id of a chat")
	}
	id, err := uuid.Parse(s)
	if err != nil || id == uuid.Nil {
		return uuid.Nil, invalid("target_event_id must be the event_id of a chat")
	}
	return id, nil
}

func muteDuration(raw json.RawMessage) (time.Duration, error) {
	n, err := integer(raw)
	if err != nil || n < 1 || n > MaxMuteSeconds {
		return 0, invalid("duration_s must be an integer from 1 to %d", MaxMuteSeconds)
	}
	return time.Duration(n) * time.Second, nil
}

// integer reads a JSON integer (not a string, not a fraction).
func integer(raw json.RawMessage) (int64, error) {
	var n json.Number
	if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return 0, invalid("not an integer")
	}
	return n.Int64()
}

func position(raw json.RawMessage) (int64, error) {
	v, err := integer(raw)
	if err != nil || v < 0 || v > MaxPositionMS {
		return 0, invalid("position_ms must be an integer from 0 to %d", MaxPositionMS)
	}
	return v, nil
}
