package erase

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
)

// eraseFromStream deletes the entries of party's stream that e covers,
// page by page, acknowledging them in the flushers' group; an entry no
// flusher can decode goes when its fields name the user. The user's
// moderation actions stay, for the flushers to store in stream order and
// unattributed (a delete stored out of order would not hide a chat flushed
// after it), and leave with the trim of flushed entries. It also removes
// the user from the party's like set, unless the stream holds a like of
// theirs that e does not cover. It returns the entries deleted and the
// likes removed (0 or 1).
func eraseFromStream(ctx context.Context, b buffers, party uuid.UUID, e store.Erasure) (int, int, error) {
	keys := stream.KeysFor(party)
	deleted, keptLike := 0, false
	for start := "-"; ; {
		msgs, err := b.Range(ctx, keys.Stream, start, stream.MaxPage)
		if err != nil {
			return deleted, 0, fmt.Errorf("read %s: %w", keys.Stream, err)
		}
		var ids []string
		for _, m := range msgs {
			raw := dlq.RawEntry{StreamID: m.ID, Fields: m.Fields}
			ev, err := stream.DecodeFields(party, m.ID, raw.Fields, nil)
			switch {
			case err != nil:
				if coveredRaw(e, party, raw) {
					ids = append(ids, m.ID)
				}
			case e.Covers(ev.UserID, party, m.ID, ev.CreatedAt) && !ev.Type.IsModeration():
				ids = append(ids, m.ID)
			case ev.Type.Kind().Redis == event.CountsLike && ev.UserID == e.UserID:
				keptLike = true
			}
		}
		if len(ids) > 0 {
			n, err := b.AckAndDelete(ctx, keys.Stream, stream.Group, ids)
			if err != nil {
				return deleted, 0, fmt.Errorf("delete %d entries of %s from %s: %w", len(ids), e.UserID, keys.Stream, err)
			}
			deleted += n
		}
		if len(msgs) < stream.MaxPage {
			break
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
	if keptLike {
		return deleted, 0, nil
	}
	// Pods following the party learn its new total from the announcement.
	liked, err := b.EraseLike(ctx, keys, e.UserID)
	if err != nil {
		return deleted, 0, fmt.Errorf("remove %s from %s: %w", e.UserID, keys.Likers, err)
	}
	if liked {
		return deleted, 1, nil
	}
	return deleted, 0, nil
}

// coveredRaw reports whether e covers r, an entry of party's stream that
// cannot be decoded: its fields name the user, and its id's time is in e.
func coveredRaw(e store.Erasure, party uuid.UUID, r dlq.RawEntry) bool {
	return slices.Contains(r.UserIDs(), e.UserID) && e.Covers(e.UserID, party, r.StreamID, time.Time{})
}
