package lifecycle

import (
	"context"
	"time"

	"github.com/watchparty/watchparty/internal/event"
)

// Sample records each ongoing party's viewer count at sampledAt as a
// viewer-count event in its stream, flushed like any other event. Its id
// derives from party and time, so a second replica sampling the same
// moment stores nothing new. A party whose count or append fails is
// logged and skipped.
func (s *Scheduler) Sample(ctx context.Context, sampledAt time.Time) {
	ids, err := s.deps.Parties.OngoingIDs(ctx)
	if err != nil {
		s.log.Warn("list ongoing parties for viewer samples", "err", err)
		return
	}
	for _, p := range ids {
		n, err := s.deps.Presence.Total(ctx, p)
		if err != nil {
			s.log.Warn("count viewers", "party_id", p, "err", err)
			continue
		}
		e := event.Event{Type: event.Viewers, ID: event.NewID(p, "", "viewers@"+event.FormatTime(sampledAt)),
			PartyID: p, CreatedAt: event.Millis(sampledAt), Viewers: &n}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = s.deps.Samples.Append(actx, e, true)
		cancel()
		if err != nil {
			s.log.Warn("record viewer sample", "party_id", p, "err", err)
		}
	}
}
