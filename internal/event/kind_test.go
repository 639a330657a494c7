package event

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDeclareRefusesIncompleteKinds: a kind clients send cannot be
// declared without a rate class or a sender, nor any kind without a
// storage target or twice; the program stops at start instead.
func TestDeclareRefusesIncompleteKinds(t *testing.T) {
	read := func(map[string]json.RawMessage, *Inbound) error { return nil }
	for name, c := range map[string]struct {
		k    Kind
		want string
	}{
		"no rate class":   {Kind{Type: "t1", read: read, May: ByViewer, Store: Logs}, "no rate class"},
		"unnamed class":   {Kind{Type: "t2", read: read, May: ByViewer, Rate: &RateClass{}, Store: Logs}, "no rate class"},
		"no sender":       {Kind{Type: "t3", read: read, Rate: &RateClass{Name: "x"}, Store: Logs}, "no client may send"},
		"sender, no read": {Kind{Type: "t4", May: ByViewer, Store: Logs}, "declares a sender"},
		"no target":       {Kind{Type: "t5"}, "no storage target"},
		"twice":           {Kind{Type: Chat, Store: Chats}, "declared twice"},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), c.want) {
					t.Fatalf("declare = panic %v, want one saying %q", r, c.want)
				}
				if _, ok := kinds[c.k.Type]; ok && c.k.Type != Chat {
					t.Fatalf("%s declared after all", c.k.Type)
				}
			}()
			declare(c.k)
		})
	}
}

// TestEveryKindClientsSendHasARateClass: what the declarations hold, not
// only what declare checks.
func TestEveryKindClientsSendHasARateClass(t *testing.T) {
	for _, typ := range Types {
		if k := typ.Kind(); typ.Inbound() && (k.Rate == nil || k.Rate.Name == "" || k.Rate.Rate <= 0 || k.Rate.Burst <= 0) {
			t.Errorf("%s: clients send it and its rate class is %+v", typ, k.Rate)
		}
	}
}
