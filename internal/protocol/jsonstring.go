package protocol

import "encoding/json"

// AppendJSONString writes s as encoding/json does; strings that need no
// escaping (most) are copied without it.
func AppendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			j, _ := json.Marshal(s) // a string always encodes
			return append(b, j...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}

// AppendJSON writes a as json.Marshal does, without its reflection: an
// ack is written for every stored event.
func (a Ack) AppendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = AppendJSONString(b, a.Type)
	if a.ID != "" {
		b = AppendJSONString(append(b, `,"id":`...), a.ID)
	}
	b = AppendJSONString(append(b, `,"event_id":`...), a.EventID)
	if a.StreamID != "" {
		b = AppendJSONString(append(b, `,"stream_id":`...), a.StreamID)
	}
	return append(b, '}')
}
