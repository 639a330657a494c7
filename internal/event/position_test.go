package event_test

import (
	"testing"

	"github.com/watchparty/watchparty/internal/event"
)

func TestParsePosition(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want event.Position
		ok   bool
	}{
		{"1732000000000-0", event.Position{MS: 1732000000000, Seq: 0}, true},
		{"5-17", event.Position{MS: 5, Seq: 17}, true},
		{"", event.Position{}, false},
		{"12", event.Position{}, false},
		{"12-", event.Position{}, false},
		{"-1-0", event.Position{}, false},
		{"a-b", event.Position{}, false},
		{"18446744073709551615-0", event.Position{}, false},
	} {
		got, err := event.ParsePosition(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParsePosition(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok && got.String() != tt.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tt.in)
		}
	}
	a, b := event.Position{MS: 5, Seq: 17}, event.Position{MS: 6, Seq: 0}
	if !a.Less(b) || b.Less(a) || a.Less(a) || !b.Less(event.MaxPosition) {
		t.Error("Less does not follow stream order")
	}
}
