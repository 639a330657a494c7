package store

import (
	"slices"
	"testing"

	"github.com/watchparty/watchparty/internal/event"
)

// TestEveryKindsTargetIsWritten: the writer stores every declared kind
// somewhere it knows, so a kind whose target it lacks fails here rather
// than at its first flush.
func TestEveryKindsTargetIsWritten(t *testing.T) {
	for _, typ := range event.Types {
		target := typ.Kind().Store
		known := target == event.Counts || slices.ContainsFunc(rowTargets, func(r rowTarget) bool { return r.target == target })
		if !known {
			t.Errorf("kind %s is stored in %q, which the writer does not write", typ, target)
		}
	}
}
