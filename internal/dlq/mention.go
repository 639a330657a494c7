package dlq

import (
	"encoding/json"
	"strings"
)

// What a raw entry or an element that is not a batch holds cannot be
// decoded as an event, yet an erasure must still find the person's among
// them. A lenient scan reads them as JSON that may be damaged or cut short:
// it finds the members with a given key and a string value at any depth,
// also inside the document a member "e" holds as a string (a stream
// entry's event, in a raw entry's fields). A chat's text is a string
// value, its quotes escaped, so no text can pass for a member.

// maxNesting bounds how deep the scan follows documents held in "e".
const maxNesting = 3

// UserIDs returns the user ids the entry's fields name: a field "user_id",
// and the member "user_id" of the event in field "e", read leniently (the
// entry could not be decoded). Usually one; none for an entry that names
// no user.
func (r RawEntry) UserIDs() []string {
	var ids []string
	if id, ok := r.Fields["user_id"]; ok {
		ids = append(ids, id)
	}
	if e, ok := r.Fields["e"]; ok {
		ids = append(ids, Members(e, "user_id")...)
	}
	return ids
}

// Members returns the string values of every member named key in doc, a
// JSON document that may be damaged or cut short, at any depth, also
// inside the documents members "e" hold as strings.
func Members(doc, key string) []string {
	var out []string
	scan(doc, key, 0, &out)
	return out
}

// scan is a tolerant JSON lexer: it knows strings and the colon after a
// member's name, and skips everything else.
func scan(doc, key string, depth int, out *[]string) {
	member := ""   // the name of the member whose value comes next
	named := false // member is set
	for i := 0; i < len(doc); i++ {
		switch c := doc[i]; c {
		case '"':
			s, end, ok := readString(doc, i)
			if !ok {
				return // cut short inside a string
			}
			i = end
			if named {
				if member == key {
					*out = append(*out, s)
				}
				if member == "e" && depth < maxNesting {
					scan(s, key, depth+1, out)
				}
				named = false
				continue
			}
			if j := skipSpace(doc, i+1); j < len(doc) && doc[j] == ':' {
				member, named, i = s, true, j
			}
		case ' ', '\t', '\n', '\r':
		default:
			named = false // a value that is not a string, or damage
		}
	}
}

// readString reads the JSON string starting at doc[start], a quote, and
// returns its value, the index of its closing quote, and false when doc
// ends first. A string with a bad escape is returned as written.
func readString(doc string, start int) (string, int, bool) {
	escaped := false
	for j := start + 1; j < len(doc); j++ {
		switch {
		case escaped:
			escaped = false
		case doc[j] == '\\':
			escaped = true
		case doc[j] == '"':
			raw := doc[start : j+1]
			var s string
			if !strings.Contains(raw, `\`) {
				return raw[1 : len(raw)-1], j, true
			}
			if err := json.Unmarshal([]byte(raw), &s); err != nil {
				return raw[1 : len(raw)-1], j, true
			}
			return s, j, true
		}
	}
	return "", len(doc), false
}

func skipSpace(doc string, i int) int {
	for i < len(doc) && strings.IndexByte(" \t\n\r", doc[i]) >= 0 {
		i++
	}
	return i
}
