package erase

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
)

// eraseFromDLQ removes what e covers from wp:dlq through dlq.Rewrite,
// which changes an element only if nobody changed it since it was read:
// events of dead-lettered batches, by their stream id (kept from the
// stream they were read from), but for moderation actions, which stay
// unattributed as the writer stores them; raw entries, when their fields
// name the user; and elements that are not batches at all, whole, when
// they name the user as a user_id (and the party, for an erasure in one
// party): their events' times cannot be read, and nothing can replay them.
func eraseFromDLQ(ctx context.Context, b buffers, e store.Erasure) (dlq.Rewritten, error) {
	covers := func(ev event.Event) bool { return e.Covers(ev.UserID, ev.PartyID, ev.StreamID, ev.CreatedAt) }
	return b.RewriteDeadLetters(ctx, dlq.Edit{
		Drop: func(ev event.Event) bool { return covers(ev) && !ev.Type.IsModeration() },
		Change: func(ev event.Event) (event.Event, bool) {
			if !covers(ev) {
				return ev, false
			}
			ev.UserID = store.Unattributed
			return ev, true
		},
		DropRaw: func(party string, r dlq.RawEntry) bool {
			p, _ := uuid.Parse(party)
			return coveredRaw(e, p, r)
		},
		DropElement: func(raw string) bool {
			return names(raw, "user_id", func(v string) bool { return v == e.UserID }) &&
				(e.Party == uuid.Nil || names(raw, "party_id", func(v string) bool {
					p, err := uuid.Parse(v)
					return err == nil && p == e.Party
				}))
		},
	})
}

// names reports whether doc has a member key whose value is one match
// accepts.
func names(doc, key string, match func(string) bool) bool {
	return slices.ContainsFunc(dlq.Members(doc, key), match)
}
