package event

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// fastDecode parses the common shape of a stream entry — a flat object of
// the stream form's keys without spaces whose numbers are integers —
// without reflection; encoding/json costs the flusher about
// 2.5 µs an event (bench). It reports false for anything else, and Decode
// then falls back to encoding/json, so it never decides what an entry means
// on its own.
func fastDecode(b []byte) (Event, bool) {
	var r record
	p := parser{b: b}
	if !p.byte('{') {
		return r.Event, false
	}
	if p.byte('}') {
		return r.Event, true
	}
	for next := 0; ; {
		key, ok := p.str()
		if !ok || !p.byte(':') {
			return r.Event, false
		}
		var s slot
		if s, next, ok = streamForm.lookup(key, next); !ok || !p.value(s.value(&r)) {
			return r.Event, false
		}
		if p.byte('}') {
			return r.Event, p.i == len(p.b)
		}
		if !p.byte(',') {
			return r.Event, false
		}
	}
}

type parser struct {
	b []byte
	i int
}

func (p *parser) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string without escapes.
func (p *parser) str() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	end := bytes.IndexByte(p.b[p.i:], '"')
	if end < 0 {
		return nil, false
	}
	s := p.b[p.i : p.i+end]
	if bytes.IndexByte(s, '\\') >= 0 {
		return nil, false
	}
	p.i += end + 1
	return s, true
}

// text reads a string, its escapes (a chat's quotes, newlines, "<" and "&")
// decoded by encoding/json.
func (p *parser) text() (string, bool) {
	start := p.i
	if s, ok := p.str(); ok {
		return string(s), true
	}
	p.i = start + 1
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '\\':
			p.i += 2
			continue
		case '"':
			p.i++
			var s string
			err := json.Unmarshal(p.b[start:p.i], &s)
			return s, err == nil
		}
		p.i++
	}
	return "", false
}

// int reads a non-negative or negative integer.
func (p *parser) int() (int64, bool) {
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	n, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	return n, err == nil
}

// value reads a field's value into v, a pointer from field.value.
func (p *parser) value(v any) bool {
	switch v := v.(type) {
	case **int64:
		n, ok := p.int()
		*v = &n
		return ok
	case **int:
		n, ok := p.int()
		m := int(n)
		*v = &m
		return ok
	case *string:
		var ok bool
		*v, ok = p.text()
		return ok
	}
	s, ok := p.str()
	if !ok {
		return false
	}
	var err error
	switch v := v.(type) {
	case *Type:
		*v = Type(s)
	case *uuid.UUID:
		*v, err = uuid.ParseBytes(s)
	case *time.Time:
		*v, err = time.Parse(time.RFC3339Nano, string(s))
	default:
		return false
	}
	return err == nil
}
