package e2e

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/history"
)

// addJoinEntries appends n joins to the party's stream directly, as
// addChatEntries does chats, and returns their stream ids.
func addJoinEntries(t *testing.T, rdb *redis.Client, party string, n int) []string {
	t.Helper()
	ctx := context.Background()
	pid := uuid.MustParse(party)
	ids := make([]string, 0, n)
	for start := 0; start < n; start += 1000 {
		pipe := rdb.Pipeline()
		cmds := make([]*redis.StringCmd, 0, 1000)
		for range min(n-start, 1000) {
			payload, err := event.Encode(event.Event{Type: event.Join, ID: uuid.New(), PartyID: pid,
				UserID: "filler", CreatedAt: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, pipe.XAdd(ctx, &redis.XAddArgs{Stream: streamKey(party), Values: []any{"e", payload}}))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range cmds {
			ids = append(ids, c.Val())
		}
	}
	return ids
}

// TestHistoryReadsOverManyNonChatEntriesAreBounded: a party's one chat is
// followed by 20,000 joins. A page of one chat looks at history.MaxScan
// entries and answers none, with next_before at the oldest entry it looked
// at; paging on reaches the chat, and a page with next_before null. A new
// viewer's welcome looks no further either, so its history is empty.
func TestHistoryReadsOverManyNonChatEntriesAreBounded(t *testing.T) {
	s := sharedSystem(t)
	gw, _ := s.gateway("WATCH_PARTY_HISTORY_RATE=0") // pages faster than one user may
	party := s.party("ONGOING", "host")
	chat := addChatEntries(t, s.rdb, party, 1)
	ids := append(chat, addJoinEntries(t, s.rdb, party, 20_000)...)

	code, b := getChats(t, gw, party, "limit=1")
	if code != http.StatusOK || len(b.Chats) != 0 || b.NextBefore == nil || *b.NextBefore != ids[len(ids)-history.MaxScan] {
		t.Fatalf("first page: %d %+v, want no chats and next_before %s, %d entries back",
			code, b, ids[len(ids)-history.MaxScan], history.MaxScan)
	}
	var found []string
	for pages := 1; b.NextBefore != nil; pages++ {
		if pages > len(ids)/history.MaxScan+1 {
			t.Fatalf("still paging after %d pages", pages)
		}
		before := *b.NextBefore
		if code, b = getChats(t, gw, party, "limit=1&before="+before); code != http.StatusOK {
			t.Fatalf("page before %s: %d %+v", before, code, b.Error)
		}
		for _, c := range b.Chats {
			found = append(found, c.StreamID)
		}
	}
	if !slices.Equal(found, chat) {
		t.Fatalf("paging found %v, want the one chat %v", found, chat)
	}

	viewer := dial(t, gw, party, "viewer")
	if w := viewer.nextOf("welcome", 10*time.Second); len(historyIDs(t, w)) != 0 {
		t.Fatalf("welcome history %v: it looked further back than %d entries", historyIDs(t, w), history.MaxScan)
	}
}

// TestHistoryBeforeTheFirstIDIsAnEmptyPage: before=0-0, a cursor nothing
// can come before, is an empty last page, not an error.
func TestHistoryBeforeTheFirstIDIsAnEmptyPage(t *testing.T) {
	s := sharedSystem(t)
	gw, _ := s.gateway()
	party := s.party("ONGOING", "host")
	addChatEntries(t, s.rdb, party, 3)
	for _, q := range []string{"before=0-0", "before=0-0&limit=200", "before=0-1"} {
		if code, b := getChats(t, gw, party, q); code != http.StatusOK || len(b.Chats) != 0 || b.NextBefore != nil {
			t.Errorf("?%s: %d %+v, want 200 with no chats and next_before null", q, code, b)
		}
	}
}

// TestHistoryRefusesBannedUser: a user banned from the party gets 403
// forbidden for its chats, other users still get them, and after an unban
// the user does too.
func TestHistoryRefusesBannedUser(t *testing.T) {
	s := sharedSystem(t)
	gw, _ := s.gateway()
	party := s.party("ONGOING", "host")
	addChatEntries(t, s.rdb, party, 3)
	moderate := func(action string) {
		t.Helper()
		path := "/api/parties/" + party + "/moderation"
		if code, out := api(t, gw, http.MethodPost, path, "host", map[string]any{"type": action, "target_user_id": "reader"}); code != http.StatusOK {
			t.Fatalf("%s reader: %d %v", action, code, out)
		}
	}

	moderate("ban")
	if code, b := getChats(t, gw, party, ""); code != http.StatusForbidden || b.Error.Code != "forbidden" || len(b.Chats) != 0 {
		t.Fatalf("chats for a banned user: %d %+v, want 403 forbidden", code, b)
	}
	if code, out := api(t, gw, http.MethodGet, "/api/parties/"+party+"/chats", "someone-else", nil); code != http.StatusOK {
		t.Fatalf("chats for a user not banned: %d %v", code, out)
	}
	moderate("unban")
	if code, b := getChats(t, gw, party, ""); code != http.StatusOK || len(b.Chats) != 3 {
		t.Fatalf("chats after the unban: %d %+v, want the 3 chats", code, b)
	}
}
