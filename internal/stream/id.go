package stream

import "github.com/watchparty/watchparty/internal/event"

// After reports whether stream id a comes after b; an unparsable id never does.
func After(a, b string) bool {
	x, err := event.ParsePosition(a)
	if err != nil {
		return false
	}
	y, err := event.ParsePosition(b)
	if err != nil {
		return true
	}
	return y.Less(x)
}
