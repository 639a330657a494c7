package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what a viewer may send.
const (
	MaxClientIDLen = 64
	MaxChatLen     = 500
	MaxPositionMS  = 604_800_000
)

// Inbound is a validated client frame.
type Inbound struct {
	Type       Type
	ClientID   string // optional client message id; "" when absent
	Text       string
	PositionMS int64
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
	switch in.Type {
	case Chat:
		in.Text, err = chatText(fields["text"])
	case Like:
	case Play, Pause, Seek:
		in.PositionMS, err = position(fields["position_ms"])
	default:
		err = invalid("unknown type %q", typ)
	}
	return in, err
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

func position(raw json.RawMessage) (int64, error) {
	var n json.Number
	if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return 0, invalid("position_ms must be an integer")
	}
	v, err := n.Int64()
	if err != nil || v < 0 || v > MaxPositionMS {
		return 0, invalid("position_ms must be an integer from 0 to %d", MaxPositionMS)
	}
	return v, nil
}
