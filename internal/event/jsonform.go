package event

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/protocol"
)

// encode appends r to b as a JSON object in form f, byte for byte what
// encoding/json would write for a struct of f's slots.
func (f *form) encode(b []byte, r *record) ([]byte, error) {
	b = append(b, '{')
	first := true
	for _, s := range f.slots {
		v := s.value(r)
		if !s.present(r, v) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(append(append(b, '"'), s.key...), '"', ':')
		var err error
		if b, err = f.appendValue(b, v); err != nil {
			return nil, fmt.Errorf("%s: %w", s.key, err)
		}
	}
	return append(b, '}'), nil
}

func (f *form) appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case *Type:
		return protocol.AppendJSONString(b, string(*v)), nil
	case *string:
		return protocol.AppendJSONString(b, *v), nil
	case *uuid.UUID:
		return append(appendUUID(append(b, '"'), *v), '"'), nil
	case *time.Time:
		t := Millis(*v)
		if f.millis {
			return append(t.AppendFormat(append(b, '"'), TimeLayout), '"'), nil
		}
		// As t.MarshalJSON, without its allocation.
		j, err := t.AppendText(append(b, '"'))
		if err != nil {
			return b, err
		}
		return append(j, '"'), nil
	case *int64:
		return strconv.AppendInt(b, *v, 10), nil
	case **int64:
		if *v == nil {
			return append(b, "null"...), nil
		}
		return strconv.AppendInt(b, **v, 10), nil
	case **int:
		if *v == nil {
			return append(b, "null"...), nil
		}
		return strconv.AppendInt(b, int64(**v), 10), nil
	}
	return nil, fmt.Errorf("no JSON form for %T", v)
}

func appendUUID(b []byte, id uuid.UUID) []byte {
	const digits = "0123456789abcdef"
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, digits[c>>4], digits[c&0xf])
	}
	return b
}

// decode reads a JSON object in form f into r with encoding/json, keys
// matched as encoding/json matches struct fields (exactly, else ignoring
// case) and keys f does not have ignored. The times a millis form always
// writes must be present.
func (f *form) decode(b []byte, r *record) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for _, s := range f.slots {
		raw, ok := find(m, s.key)
		v := s.value(r)
		if t, isTime := v.(*time.Time); isTime && f.millis {
			if !ok && s.when != always {
				continue
			}
			if err := parseTime(t, raw); err != nil {
				return fmt.Errorf("event %s: %s: %w", r.ID, s.key, err)
			}
			continue
		}
		if ok {
			if err := json.Unmarshal(raw, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func find(m map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	if raw, ok := m[key]; ok {
		return raw, true
	}
	for k, raw := range m {
		if strings.EqualFold(k, key) {
			return raw, true
		}
	}
	return nil, false
}

// parseTime reads an RFC 3339 string; a missing one is an error.
func parseTime(t *time.Time, raw json.RawMessage) error {
	var s string
	if raw != nil {
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
	}
	var err error
	*t, err = time.Parse(time.RFC3339Nano, s)
	return err
}
