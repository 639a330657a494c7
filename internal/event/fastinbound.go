package event

import "bytes"

// fastInbound reads the common shape of a chat or like frame — a flat
// object of the keys "type", "id" and "text", each once, whose string
// values hold no escapes and no control characters, without spaces — with
// no reflection and no map: the JSON decoder costs the gateway about 6 µs
// a frame (BenchmarkIngest's profile). It reports false for anything else,
// and ParseInbound then reads the frame with encoding/json, so it never
// decides what a frame means on its own: the fields it returns are checked
// by the same rules.
func fastInbound(raw []byte) (typ, id, text string, hasID, hasText, ok bool) {
	p := parser{b: raw}
	if !p.byte('{') {
		return
	}
	var hasType bool
	for {
		key, k := p.plainString()
		if !k || !p.byte(':') {
			return
		}
		val, v := p.plainString()
		if !v {
			return
		}
		switch string(key) {
		case "type":
			if hasType {
				return
			}
			typ, hasType = string(val), true
		case "id":
			if hasID {
				return
			}
			id, hasID = string(val), true
		case "text":
			if hasText {
				return
			}
			text, hasText = string(val), true
		default:
			return
		}
		if p.byte('}') {
			ok = hasType && p.i == len(p.b) && (typ == string(Chat) || typ == string(Like))
			return
		}
		if !p.byte(',') {
			return
		}
	}
}

// plainString reads a JSON string that needs no decoding: no escapes and
// no bytes below 0x20, which JSON forbids unescaped.
func (p *parser) plainString() ([]byte, bool) {
	s, ok := p.str()
	if !ok || bytes.IndexFunc(s, func(r rune) bool { return r < 0x20 }) >= 0 {
		return nil, false
	}
	return s, true
}
