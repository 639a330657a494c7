package stream

import (
	"fmt"
	"strconv"
	"strings"
)

// ID is a parsed stream entry id "<ms>-<seq>".
type ID struct{ MS, Seq uint64 }

// ParseID parses a stream entry id.
func ParseID(s string) (ID, error) {
	ms, seq, ok := strings.Cut(s, "-")
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return ID{}, fmt.Errorf("bad stream id %q", s)
	}
	return ID{a, b}, nil
}

// Less reports whether a comes before b in a stream.
func (a ID) Less(b ID) bool { return a.MS < b.MS || (a.MS == b.MS && a.Seq < b.Seq) }

func (a ID) String() string {
	return strconv.FormatUint(a.MS, 10) + "-" + strconv.FormatUint(a.Seq, 10)
}

// After reports whether stream id a comes after b; an unparsable id never does.
func After(a, b string) bool {
	x, err := ParseID(a)
	if err != nil {
		return false
	}
	y, err := ParseID(b)
	if err != nil {
		return true
	}
	return y.Less(x)
}
