package web

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/watchparty/watchparty/internal/event"
)

// TestReactionButtonsAreTheDeclaredSet: the party page offers exactly the
// emoji the reaction kind accepts, in its order, so a change to the set
// cannot leave a button the server refuses or an emoji nobody can send.
func TestReactionButtonsAreTheDeclaredSet(t *testing.T) {
	page, err := os.ReadFile("static/party.html")
	if err != nil {
		t.Fatal(err)
	}
	var offered []string
	for _, m := range regexp.MustCompile(`data-emoji="([^"]+)"`).FindAllStringSubmatch(string(page), -1) {
		offered = append(offered, m[1])
	}
	if !slices.Equal(offered, event.Reactions) {
		t.Fatalf("party.html offers %q, the reaction kind accepts %q", offered, event.Reactions)
	}
}
