package dlq_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
)

// TestRewriteDropsEventsAndEmptyBatches removes one user's events from
// every dead-lettered batch: a mixed batch keeps the others' events, a
// batch of that user only leaves the list, untouched batches stay as they
// were, and a second rewrite finds nothing.
func TestRewriteDropsEventsAndEmptyBatches(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	p := uuid.New()
	untouched := batch(ev(p, event.Chat, "bob"))
	push(t, rdb, batch(ev(p, event.Chat, "alice"), ev(p, event.Like, "bob"), ev(p, event.Seek, "alice")),
		batch(ev(p, event.Chat, "alice")), untouched)
	before := raws(t, rdb)

	drop := dlq.Edit{Drop: func(e event.Event) bool { return e.UserID == "alice" }}
	done, err := dlq.Rewrite(ctx, rdb, drop)
	if err != nil || done != (dlq.Rewritten{Events: 3, Batches: 1}) {
		t.Fatalf("Rewrite = %+v, %v; want 3 events, 1 batch", done, err)
	}
	after := raws(t, rdb)
	if len(after) != 2 || after[1] != before[2] {
		t.Fatalf("wp:dlq after the rewrite:\n%v\nwant the mixed batch rewritten and the last unchanged", after)
	}
	list, err := dlq.List(ctx, rdb, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := list[0].Batch.Events; len(got) != 1 || got[0].UserID != "bob" || got[0].Type != event.Like {
		t.Fatalf("the mixed batch holds %+v, want bob's like", got)
	}
	if done, err := dlq.Rewrite(ctx, rdb, drop); err != nil || done != (dlq.Rewritten{}) {
		t.Fatalf("second Rewrite = %+v, %v; want nothing", done, err)
	}
}
