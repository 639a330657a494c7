package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// chatAll sends texts as chats from c, window at a time, and returns the
// stream id of each, in order. Each text is its chat's client message id,
// so texts must be unique within the party.
func chatAll(c *client, texts []string, window int) []string {
	c.t.Helper()
	ids := make([]string, 0, len(texts))
	for start := 0; start < len(texts); start += window {
		end := min(start+window, len(texts))
		for i := start; i < end; i++ {
			c.send(map[string]any{"type": "chat", "id": texts[i], "text": texts[i]})
		}
		byID := make(map[string]string, end-start)
		for range end - start {
			a := c.nextOf("ack", 10*time.Second)
			if a.StreamID == "" {
				c.t.Fatalf("ack without stream id: %s", a.Raw)
			}
			byID[a.ID] = a.StreamID
		}
		for i := start; i < end; i++ {
			ids = append(ids, byID[texts[i]])
		}
	}
	return ids
}

func texts(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s %d", prefix, i)
	}
	return out
}

func historyIDs(t *testing.T, w frame) []string {
	t.Helper()
	if !strings.Contains(w.Raw, `"history":[`) {
		t.Fatalf("welcome without history: %s", w.Raw)
	}
	ids := make([]string, len(w.History))
	for i, f := range w.History {
		if f.Type != "chat" || f.EventID == "" || f.UserID == "" || f.TS == "" {
			t.Fatalf("history entry %d is not a chat frame: %+v", i, f)
		}
		ids[i] = f.StreamID
	}
	return ids
}

// TestHistoryInWelcomeOfLateJoiner: a new viewer on a second gateway is
// welcomed with the party's last 50 chats, oldest first, some of them
// already flushed and trimmed from the stream (only in PostgreSQL) and the
// rest not flushed yet; a viewer joining the first gateway, whose hub saw
// every chat live, gets the same; a viewer joining while chats keep coming
// sees every chat once, in the history up to its welcome's last_id and live
// after it; a resuming viewer gets no history.
func TestHistoryInWelcomeOfLateJoiner(t *testing.T) {
	s := sharedSystem(t)
	gw1, _ := s.gateway()
	gw2, _ := s.gateway()
	party := s.party("ONGOING", "host")
	talker := dial(t, gw1, party, "talker")
	if w := talker.nextOf("welcome", 5*time.Second); len(w.History) != 0 || !strings.Contains(w.Raw, `"history":[]`) {
		t.Fatalf("welcome of an empty party %s, want an empty history", w.Raw)
	}

	ids := chatAll(talker, texts("old", 40), 20)
	talker.send(map[string]any{"type": "like"})
	talker.nextOf("ack", 5*time.Second)
	s.flushOnce("WATCH_PARTY_STREAM_RETENTION=0s")
	if n := s.count(`SELECT count(*) FROM watch_party_chats WHERE party_id = $1`, party); n != 40 {
		t.Fatalf("%d chats flushed, want 40", n)
	}
	if n, err := s.rdb.XLen(context.Background(), streamKey(party)).Result(); err != nil || n != 0 {
		t.Fatalf("stream holds %d entries after flushing with no retention (%v), want 0", n, err)
	}
	ids = append(ids, chatAll(talker, texts("new", 30), 30)...)
	want := ids[len(ids)-50:]

	late := dial(t, gw2, party, "late")
	w := late.nextOf("welcome", 5*time.Second)
	if !slices.Equal(historyIDs(t, w), want) {
		t.Fatalf("history on the second gateway:\n got %v\nwant %v", historyIDs(t, w), want)
	}
	if w.History[0].Text != "old 20" || w.History[49].Text != "new 29" || streamBefore(w.LastID, ids[len(ids)-1]) {
		t.Fatalf("history from %q to %q with last_id %s; want old 20 .. new 29 and a last_id from %s",
			w.History[0].Text, w.History[49].Text, w.LastID, ids[len(ids)-1])
	}
	same := dial(t, gw1, party, "same")
	if got := historyIDs(t, same.nextOf("welcome", 5*time.Second)); !slices.Equal(got, want) {
		t.Fatalf("history on the first gateway:\n got %v\nwant %v", got, want)
	}

	// Chats keep coming while viewers join: history up to last_id, live after, nothing twice.
	sent := make(chan []string, 1)
	go func() { sent <- chatAll(talker, texts("busy", 400), 10) }()
	var joiners []*client
	for i := range 4 {
		joiners = append(joiners, dial(t, []string{gw1, gw2}[i%2], party, fmt.Sprintf("j%d", i)))
	}
	busy := <-sent
	all := append(slices.Clone(ids), busy...)
	for _, j := range joiners {
		w := j.nextOf("welcome", 5*time.Second)
		seen := historyIDs(t, w)
		if len(seen) != 50 || streamBefore(w.LastID, seen[len(seen)-1]) {
			t.Fatalf("%s: history of %d ending at %v, last_id %s: want 50 up to last_id", j, len(seen), seen[len(seen)-1:], w.LastID)
		}
		for seen[len(seen)-1] != all[len(all)-1] {
			seen = append(seen, j.nextOf("chat", 5*time.Second).StreamID)
		}
		start := slices.Index(all, seen[0])
		if start < 0 || !slices.Equal(seen, all[start:]) {
			t.Fatalf("%s: history then live chats are not every chat once, in order:\n got %v\nwant %v", j, seen, all[max(start, 0):])
		}
	}

	back, _, err := tryDial(t, wsURL(gw2, party, url.Values{"user": {"late"}, "since": {ids[len(ids)-1]}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	back.user = "late"
	if w := back.nextOf("welcome", 5*time.Second); strings.Contains(w.Raw, `"history"`) {
		t.Fatalf("welcome of a resuming viewer carries history: %s", w.Raw)
	}
}

type chatsBody struct {
	Chats      []frame `json:"chats"`
	NextBefore *string `json:"next_before"`
	Error      struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func getChats(t testing.TB, addr, party, query string) (int, chatsBody) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/parties/" + party + "/chats?user=reader&" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b chatsBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatalf("decode chats page: %v", err)
	}
	return resp.StatusCode, b
}

// pageAll pages backwards through the party's chats, limit at a time, and
// returns their stream ids in stream order; between runs after each page
// but the last, with the page's number (from 1) and the next cursor.
func pageAll(t *testing.T, addr, party string, limit int, between func(page int, cursor string)) []string {
	t.Helper()
	var pages [][]string
	q := url.Values{"limit": {fmt.Sprint(limit)}}
	for {
		code, b := getChats(t, addr, party, q.Encode())
		if code != http.StatusOK {
			t.Fatalf("GET chats?%s: %d %+v", q.Encode(), code, b.Error)
		}
		ids := make([]string, len(b.Chats))
		for i, c := range b.Chats {
			ids[i] = c.StreamID
		}
		pages = append(pages, ids)
		if b.NextBefore == nil {
			break
		}
		if len(ids) != limit || *b.NextBefore != ids[0] {
			t.Fatalf("page of %d with next_before %s, want %d chats and the cursor of the oldest", len(ids), *b.NextBefore, limit)
		}
		q.Set("before", *b.NextBefore)
		between(len(pages), *b.NextBefore)
	}
	slices.Reverse(pages)
	return slices.Concat(pages...)
}

// TestHistoryPagingWhileFlushing pages backwards through a party of 20,000
// chats. The first pages come from the stream; then a flusher (short
// interval, no retention) starts, and once it has stored and trimmed the
// entries right below the cursor the paging goes on, from PostgreSQL, while
// new chats keep the flusher busy. Every chat comes back exactly once, in
// stream order; and again once all of them are only in PostgreSQL.
func TestHistoryPagingWhileFlushing(t *testing.T) {
	if testing.Short() {
		t.Skip("pages through 20,000 chats; skipped with -short")
	}
	const total = 20_000
	s := sharedSystem(t)
	gw, _ := s.gateway("WATCH_PARTY_HISTORY_RATE=0") // pages faster than one user may
	party := s.party("ONGOING", "host")
	talker := dial(t, gw, party, "talker")
	talker.nextOf("welcome", 5*time.Second)
	want := chatAll(talker, texts("m", total), 200)

	flushed := func() int {
		return s.count(`SELECT count(*) FROM watch_party_chats WHERE party_id = $1`, party)
	}
	if n := flushed(); n != 0 {
		t.Fatalf("%d chats stored before any flusher ran", n)
	}
	more := make(chan []string, 1)
	got := pageAll(t, gw, party, 200, func(page int, cursor string) {
		if page != 3 {
			return
		}
		s.flusher("WATCH_PARTY_FLUSH_INTERVAL=100ms", "WATCH_PARTY_FLUSH_BATCH_SIZE=500", "WATCH_PARTY_STREAM_RETENTION=0s")
		eventually(t, 60*time.Second, "the entries below the cursor flushed and trimmed", func() bool {
			first, err := s.rdb.XRangeN(context.Background(), streamKey(party), "-", "+", 1).Result()
			return err == nil && (len(first) == 0 || !streamBefore(first[0].ID, cursor))
		})
		go func() { more <- chatAll(talker, texts("later", 1000), 50) }()
	})
	if !slices.Equal(got, want) {
		t.Fatalf("paged %d chats, want %d, every one once in stream order (first difference at %d)",
			len(got), len(want), firstDiff(got, want))
	}

	want = append(want, <-more...)
	eventually(t, 60*time.Second, "every chat flushed and trimmed", func() bool {
		n, err := s.rdb.XLen(context.Background(), streamKey(party)).Result()
		return err == nil && n == 0 && flushed() == len(want)
	})
	if again := pageAll(t, gw, party, 137, func(int, string) {}); !slices.Equal(again, want) {
		t.Fatalf("from PostgreSQL alone paged %d chats, want %d in order (first difference at %d)",
			len(again), len(want), firstDiff(again, want))
	}
}

// streamBefore reports whether stream id a comes before b.
func streamBefore(a, b string) bool {
	var am, as, bm, bs uint64
	_, _ = fmt.Sscanf(a, "%d-%d", &am, &as)
	_, _ = fmt.Sscanf(b, "%d-%d", &bm, &bs)
	return am < bm || (am == bm && as < bs)
}

// TestHistoryBadInput: a bad cursor (not a stream id as Redis writes it)
// or limit is refused with 400 and says what is wrong; an unknown party is
// 404; without credentials 401.
func TestHistoryBadInput(t *testing.T) {
	s := sharedSystem(t)
	gw, _ := s.gateway()
	party := s.party("ONGOING", "host")
	for _, q := range []string{"limit=0", "limit=201", "limit=ten", "limit=", "before=yesterday", "before=12-", "before=",
		"before=0", "before=%2B1732000000000-0", "before=01732000000000-0", "before=9223372036854775808-0"} {
		code, b := getChats(t, gw, party, q)
		if code != http.StatusBadRequest || b.Error.Code != "invalid_request" || b.Error.Message == "" {
			t.Errorf("?%s: %d %+v, want 400 invalid_request with a message", q, code, b.Error)
		}
	}
	if code, b := getChats(t, gw, party, "limit=200&before=1732000000000-0"); code != http.StatusOK || len(b.Chats) != 0 || b.NextBefore != nil {
		t.Errorf("valid query on an empty party: %d %+v", code, b)
	}
	if code, _ := getChats(t, gw, "6b4c0d6e-8a55-4c1e-9d7e-2b1f0f3a9c11", ""); code != http.StatusNotFound {
		t.Errorf("unknown party: %d, want 404", code)
	}
	if code, _ := getChats(t, gw, "not-a-uuid", ""); code != http.StatusNotFound {
		t.Errorf("malformed party id: %d, want 404", code)
	}
	resp, err := http.Get("http://" + gw + "/api/parties/" + party + "/chats")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without credentials: %d, want 401", resp.StatusCode)
	}
}
