package gateway

import (
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// fullLog logs that a party's backlog is full at most once a minute per
// party, so an outage shows in the logs without a line per refused event.
type fullLog struct {
	mu   sync.Mutex
	last map[uuid.UUID]time.Time
}

func (l *fullLog) warn(party uuid.UUID, now time.Time, log *slog.Logger) {
	l.mu.Lock()
	if l.last == nil {
		l.last = make(map[uuid.UUID]time.Time)
	}
	prev, seen := l.last[party]
	if seen && now.Sub(prev) < time.Minute {
		l.mu.Unlock()
		return
	}
	l.last[party] = now
	l.mu.Unlock()
	log.Warn("party backlog is full: refusing its events with unavailable until the flusher catches up "+
		"(see WATCH_PARTY_MAX_BUFFERED_EVENTS)", "party_id", party)
}
