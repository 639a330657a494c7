package dlq

import (
	"context"
	"fmt"
	"slices"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
)

// maxRewritePasses bounds Rewrite's passes over a list that keeps changing.
const maxRewritePasses = 20

// Edit says what Rewrite changes in wp:dlq. A nil func changes nothing.
type Edit struct {
	Drop func(event.Event) bool // removes an event of a batch
	// Change returns what an event of a batch that stays becomes, and
	// whether that differs from it.
	Change func(event.Event) (event.Event, bool)
	// DropRaw removes a raw entry (one a flusher could not decode) of a
	// batch of party, the batch's party_id.
	DropRaw func(party string, r RawEntry) bool
	// DropElement removes an element that is not a batch at all, as
	// stored.
	DropElement func(raw string) bool
}

// Rewritten counts what Rewrite changed.
type Rewritten struct {
	Events   int // events and raw entries removed from batches
	Changed  int // events changed in place
	Batches  int // batches left empty and removed
	Elements int // elements that are not batches, removed
}

// Rewrite applies edit to every batch of wp:dlq, keeping each batch's
// claim, and removes the batches it leaves empty and the elements that are
// not batches it selects. An element changes only if nobody changed it
// since it was read (a replay, a push that shifted it); when one did, the
// list is read again, until a pass finds nothing left to change. The
// counts are filled even when an error is returned.
func Rewrite(ctx context.Context, c rdb.Client, edit Edit) (Rewritten, error) {
	return rewrite(ctx, rdb.NewDeadLetters(c), edit)
}

func rewrite(ctx context.Context, c list, edit Edit) (Rewritten, error) {
	var done Rewritten
	for range maxRewritePasses {
		items, err := listAll(ctx, c, 0)
		if err != nil {
			return done, err
		}
		missed := false
		// From the tail: removing a batch does not move those before it.
		for _, it := range slices.Backward(items) {
			replacement, got, err := edit.apply(it)
			if err != nil {
				return done, err
			}
			if got == (Rewritten{}) {
				continue
			}
			ok, err := swap(ctx, c, it.Index, it.Raw, replacement)
			if err != nil {
				return done, err
			}
			if !ok {
				missed = true
				continue
			}
			done.Events += got.Events
			done.Changed += got.Changed
			done.Batches += got.Batches
			done.Elements += got.Elements
		}
		if !missed {
			return done, nil
		}
	}
	return done, fmt.Errorf("%s kept changing: %d passes did not get through it", Key, maxRewritePasses)
}

// apply returns what element it becomes ("" to remove it) and what that
// changes (nothing: leave it).
func (ed Edit) apply(it Indexed) (string, Rewritten, error) {
	if it.Err != nil {
		if ed.DropElement != nil && ed.DropElement(it.Raw) {
			return "", Rewritten{Elements: 1}, nil
		}
		return "", Rewritten{}, nil
	}
	var got Rewritten
	b := it.Batch
	b.Events = nil
	for _, e := range it.Batch.Events {
		if ed.Drop != nil && ed.Drop(e) {
			got.Events++
			continue
		}
		if ed.Change != nil {
			var changed bool
			if e, changed = ed.Change(e); changed {
				got.Changed++
			}
		}
		b.Events = append(b.Events, e)
	}
	b.Raw = slices.DeleteFunc(slices.Clone(b.Raw), func(r RawEntry) bool { return ed.DropRaw != nil && ed.DropRaw(b.PartyID, r) })
	got.Events += len(it.Batch.Raw) - len(b.Raw)
	if got == (Rewritten{}) {
		return "", got, nil
	}
	if b.Len() == 0 {
		got.Batches = 1
		return "", got, nil
	}
	replacement, err := encode(b, it.Claim)
	return replacement, got, err
}
