package event

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Position is a parsed Redis stream entry id "<ms>-<seq>": where an event
// stands in its party's stream, and so the order of a party's events (the
// chat table keeps it as stream_ms, stream_seq).
type Position struct{ MS, Seq int64 }

// MaxPosition comes after every stream entry id.
var MaxPosition = Position{math.MaxInt64, math.MaxInt64}

// ParsePosition parses a stream entry id.
func ParsePosition(id string) (Position, error) {
	ms, seq, ok := strings.Cut(id, "-")
	a, err1 := strconv.ParseInt(ms, 10, 64)
	b, err2 := strconv.ParseInt(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil || a < 0 || b < 0 {
		return Position{}, fmt.Errorf("bad stream id %q", id)
	}
	return Position{a, b}, nil
}

// Less reports whether p comes before q in a stream.
func (p Position) Less(q Position) bool { return p.MS < q.MS || (p.MS == q.MS && p.Seq < q.Seq) }

func (p Position) String() string {
	return strconv.FormatInt(p.MS, 10) + "-" + strconv.FormatInt(p.Seq, 10)
}
