package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/auth"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/history"
	"github.com/watchparty/watchparty/internal/moderation"
	"github.com/watchparty/watchparty/internal/protocol"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
)

// Chat history paging (docs/api.md).
const (
	defaultChatsLimit = 50
	maxChatsLimit     = history.MaxLimit
)

// ChatHistory reads a party's chat backwards across the stream and
// PostgreSQL (history.Reader). It is safe for concurrent use.
type ChatHistory interface {
	// Before returns at most the last n chats before the stream id before
	// ("" for the newest), oldest first, and the cursor of the next, older
	// page ("" when there is none). A page may hold fewer than n chats,
	// even none, while a next cursor is set.
	Before(ctx context.Context, party uuid.UUID, before string, n int) ([]event.Event, string, error)
}

// chatsPage is the body of GET /api/parties/{id}/chats. NextBefore is the
// cursor of the next (older) page, null when there is none.
type chatsPage struct {
	Chats      []json.RawMessage `json:"chats"`
	NextBefore *string           `json:"next_before"`
}

// chats pages backwards through a party's chat, ongoing or finished: the
// newest limit chats before the cursor, oldest first, each as its chat
// frame, to anyone but a user banned from the party. The cursor is a
// stream id, the same in Redis and PostgreSQL, so a flush between two
// pages changes nothing.
func (a *partyAPI) chats(w http.ResponseWriter, r *http.Request, caller auth.Identity) {
	id, ok := pathParty(w, r)
	if !ok {
		return
	}
	before, limit, msg := chatsQuery(r)
	if msg != "" {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidRequest, msg)
		return
	}
	if _, err := a.parties.Get(r.Context(), id); err != nil {
		a.changeFailed(w, id, store.Party{}, err, "", "")
		return
	}
	switch banned, err := moderation.Banned(r.Context(), rdb.NewModeration(a.rdb), id, caller.UserID); {
	case err != nil:
		a.unavailable(w, id, err)
		return
	case banned:
		writeError(w, http.StatusForbidden, protocol.CodeForbidden, "you are banned from this party")
		return
	}
	chats, next, err := a.history.Before(r.Context(), id, before, limit)
	if err != nil {
		a.unavailable(w, id, err)
		return
	}
	page := chatsPage{Chats: make([]json.RawMessage, 0, len(chats))}
	for _, e := range chats {
		f, err := event.BroadcastFrame(e, 0)
		if err != nil {
			a.unavailable(w, id, fmt.Errorf("encode chat %s: %w", e.ID, err))
			return
		}
		page.Chats = append(page.Chats, f)
	}
	if next != "" {
		page.NextBefore = &next
	}
	writeJSON(w, http.StatusOK, page)
}

// chatsQuery reads before and limit, or says what is wrong with them. A
// cursor is a stream id as Redis writes it: no sign, no leading zeros.
func chatsQuery(r *http.Request) (before string, limit int, msg string) {
	q := r.URL.Query()
	limit = defaultChatsLimit
	if s := q.Get("limit"); q.Has("limit") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxChatsLimit {
			return "", 0, fmt.Sprintf("limit must be an integer from 1 to %d", maxChatsLimit)
		}
		limit = n
	}
	before = q.Get("before")
	if q.Has("before") {
		if p, err := event.ParsePosition(before); err != nil || p.String() != before {
			return "", 0, "before must be a next_before cursor of an earlier page (a stream id such as 1732000000000-0)"
		}
	}
	return before, limit, ""
}
