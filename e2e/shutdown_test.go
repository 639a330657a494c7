package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// chatLoad is one viewer sending chats with client ids as fast as its
// window of unanswered chats allows, until its connection closes.
type chatLoad struct {
	c      *client
	window chan struct{} // one token per chat sent and not yet answered
	done   chan struct{} // closed when the connection is closed

	mu       sync.Mutex
	sent     map[string]string // client id -> text, recorded before the write
	acked    map[string]frame  // client id -> ack
	refused  map[string]string // client id -> error code
	anon     []string          // error frames without the id of the chat they answer
	odd      []string          // frames that are none of the above
	closedAt time.Time
}

func newChatLoad(c *client, window int) *chatLoad {
	return &chatLoad{c: c, window: make(chan struct{}, window), done: make(chan struct{}),
		sent: map[string]string{}, acked: map[string]frame{}, refused: map[string]string{}}
}

// run sends and reads until the server closes the connection. It must not
// fail the test: it runs on its own goroutine.
func (l *chatLoad) run() {
	go l.read()
	for n := 0; ; n++ {
		select {
		case l.window <- struct{}{}:
		case <-l.done:
			return
		}
		id := fmt.Sprintf("%s-%d", l.c.user, n)
		text := fmt.Sprintf("chat %d from %s", n, l.c.user)
		l.mu.Lock()
		l.sent[id] = text
		l.mu.Unlock()
		b, _ := json.Marshal(map[string]any{"type": "chat", "id": id, "text": text})
		if err := l.c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
			<-l.done // the reader sees the close
			return
		}
	}
}

func (l *chatLoad) read() {
	defer close(l.done)
	for f := range l.c.frames {
		l.mu.Lock()
		switch {
		case f.Type == "ack" && l.sent[f.ID] != "":
			l.acked[f.ID] = f
			l.release()
		case f.Type == "error" && l.sent[f.ID] != "":
			l.refused[f.ID] = f.Code
			l.release()
		case f.Type == "error" && f.ID == "":
			l.anon = append(l.anon, f.Raw)
			l.release()
		case f.Type == "chat" || f.Type == "viewers":
		default:
			l.odd = append(l.odd, f.Raw)
		}
		l.mu.Unlock()
	}
	l.mu.Lock()
	l.closedAt = time.Now()
	l.mu.Unlock()
}

// release frees a window slot; a second answer to one chat finds none.
func (l *chatLoad) release() {
	select {
	case <-l.window:
	default:
	}
}

func (l *chatLoad) ackCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// unanswered returns the client ids sent and not acknowledged, sorted.
func (l *chatLoad) unanswered() []string {
	var ids []string
	for id := range l.sent {
		if _, ok := l.acked[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func firstAnon(loads []*chatLoad) string {
	for _, l := range loads {
		if len(l.anon) > 0 {
			return l.anon[0]
		}
	}
	return ""
}

// readyPoll is one GET /readyz made while the gateway shut down.
type readyPoll struct {
	start  time.Time
	status int // 0: the request failed
}

// pollReady asks addr's /readyz until stop is closed.
func pollReady(addr string, stop <-chan struct{}) <-chan []readyPoll {
	out := make(chan []readyPoll, 1)
	go func() {
		c := http.Client{Timeout: time.Second}
		var polls []readyPoll
		for {
			select {
			case <-stop:
				out <- polls
				return
			default:
			}
			p := readyPoll{start: time.Now()}
			if resp, err := c.Get("http://" + addr + "/readyz"); err == nil {
				p.status = resp.StatusCode
				resp.Body.Close()
			}
			polls = append(polls, p)
		}
	}()
	return out
}

// TestGatewaySIGTERMUnderLoad stops a gateway while ten viewers chat as
// fast as they can: it exits 0 within its shutdown timeout, every viewer is
// closed with 1001, and after the viewers resend everything not acked to a
// second gateway, PostgreSQL holds every chat sent, each once.
func TestGatewaySIGTERMUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("stops a gateway under load; skipped with -short")
	}
	const shutdownTimeout = 3 * time.Second
	s := sharedSystem(t)
	party := s.party("ONGOING", "host")
	addr1, gw1 := s.gateway(fmt.Sprintf("WATCH_PARTY_SHUTDOWN_FLUSH_TIMEOUT_MS=%d", shutdownTimeout.Milliseconds()))
	addr2, _ := s.gateway() // started before the SIGTERM, as another pod would be

	const viewers = 10
	loads := make([]*chatLoad, viewers)
	for i := range loads {
		c := dial(t, addr1, party, fmt.Sprintf("viewer-%02d", i))
		c.nextOf("welcome", 10*time.Second)
		loads[i] = newChatLoad(c, 8)
	}
	var wg sync.WaitGroup
	for _, l := range loads {
		wg.Go(l.run)
	}
	eventually(t, 20*time.Second, "every viewer has 100 chats acked", func() bool {
		for _, l := range loads {
			if l.ackCount() < 100 {
				return false
			}
		}
		return true
	})

	stopPolling := make(chan struct{})
	polls := pollReady(addr1, stopPolling)
	gw1.Signal(syscall.SIGTERM)
	signalled := time.Now()
	code, err := gw1.Wait(shutdownTimeout + 2*time.Second)
	took := time.Since(signalled)
	if err != nil || code != 0 {
		t.Fatalf("gateway after SIGTERM: exit %d, %v", code, err)
	}
	wg.Wait() // the process is gone, so every connection is closed
	close(stopPolling)
	t.Logf("gateway exited %v after SIGTERM", took)
	if len(gw1.Lines("gateway stopped")) == 0 {
		t.Fatal(`the gateway did not log "gateway stopped"`)
	}
	if lines := gw1.Lines("shutdown timeout reached"); len(lines) > 0 {
		t.Fatalf("the gateway ran out of shutdown time:\n%s", strings.Join(lines, "\n"))
	}

	firstClose := time.Time{}
	sent, acked, refused, anon := 0, 0, 0, 0
	for _, l := range loads {
		var ce *websocket.CloseError
		if err := l.c.err(); !asCloseError(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Errorf("%s: connection ended with %v, want close code 1001", l.c.user, err)
		}
		if len(l.odd) > 0 {
			t.Errorf("%s: unexpected frames %v", l.c.user, l.odd)
		}
		for id, code := range l.refused {
			if code != "unavailable" {
				t.Errorf("%s: chat %s refused with %s, want unavailable while shutting down", l.c.user, id, code)
			}
		}
		if firstClose.IsZero() || l.closedAt.Before(firstClose) {
			firstClose = l.closedAt
		}
		sent, acked, refused, anon = sent+len(l.sent), acked+len(l.acked), refused+len(l.refused), anon+len(l.anon)
	}
	t.Logf("%d chats sent, %d acked, %d refused, %d refused without an id, %d unanswered", sent, acked, refused, anon,
		sent-acked-refused-anon)
	// SPEC §5: an error frame names the client id of the frame it answers,
	// and "unavailable" means "resend it with the same id": without the id a
	// client with several chats in flight cannot tell which one to resend.
	if anon > 0 {
		t.Errorf("%d error frames answered chats without their id, e.g. %s", anon, firstAnon(loads))
	}
	// Readiness turns false before viewers are closed: a probe made after a
	// viewer saw its close must not find the gateway ready.
	saw503 := false
	for _, p := range <-polls {
		if p.status == 200 && p.start.After(firstClose) {
			t.Errorf("/readyz answered 200 %v after a viewer was closed", p.start.Sub(firstClose))
		}
		saw503 = saw503 || p.status == 503
	}
	t.Logf("/readyz answered 503 during the shutdown: %v", saw503)

	// In-flight appends were finished and acked before the viewers were
	// closed: nothing unanswered is in the stream.
	partyID := uuid.MustParse(party)
	inStream := streamEventIDs(t, s, party)
	for _, l := range loads {
		for _, id := range l.unanswered() {
			if inStream[event.NewID(partyID, l.c.user, id).String()] {
				t.Errorf("%s: chat %s was appended but never acked before the close", l.c.user, id)
			}
		}
	}

	// Each viewer resends what was not acked to the other gateway, as the
	// SPEC tells clients to after "unavailable" or a lost connection.
	want := map[string]string{}
	for _, l := range loads {
		for id, ack := range l.acked {
			if ack.EventID != event.NewID(partyID, l.c.user, id).String() {
				t.Fatalf("%s: chat %s acked as %s", l.c.user, id, ack.Raw)
			}
		}
		for id, text := range l.sent {
			want[event.NewID(partyID, l.c.user, id).String()] = text
		}
		again := dial(t, addr2, party, l.c.user)
		again.nextOf("welcome", 5*time.Second)
		for _, id := range l.unanswered() {
			chatAcked(t, again, party, id, l.sent[id])
		}
	}

	s.flushOnce()
	if diff := cmp.Diff(want, storedChats(t, s, party)); diff != "" {
		t.Fatalf("chats stored (-sent +stored):\n%s", diff)
	}
	if n := countEntries(t, s, party, event.Chat); n != len(want) {
		t.Fatalf("the stream holds %d chats for %d sent: a resend was stored twice", n, len(want))
	}
	leaves := s.rows(`SELECT user_id FROM watch_party_logs WHERE party_id = $1 AND action = 'leave' ORDER BY user_id`, party)
	if len(leaves) != viewers {
		t.Fatalf("%d leave rows after the gateway stopped, want one per viewer: %v", len(leaves), leaves)
	}
}

// streamEventIDs returns the event ids of every entry of party's stream.
func streamEventIDs(t testing.TB, s *system, party string) map[string]bool {
	t.Helper()
	msgs, err := s.rdb.XRange(context.Background(), streamKey(party), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		out[entryEventID(t, m)] = true
	}
	return out
}

// entryEventID decodes the event id of stream entry m.
func entryEventID(t testing.TB, m redis.XMessage) string {
	t.Helper()
	var e struct {
		EventID string `json:"event_id"`
	}
	if err := json.Unmarshal([]byte(fmt.Sprint(m.Values["e"])), &e); err != nil || e.EventID == "" {
		t.Fatalf("stream entry %s: no event id (%v)", m.ID, err)
	}
	return e.EventID
}

// appendChats appends total chats to party's stream from this process, as
// a gateway would, and returns them: event id -> text.
func appendChats(t testing.TB, rdb *redis.Client, party uuid.UUID, total int) map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a := stream.NewAppender(rdb, stream.AppenderConfig{})
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	defer func() { cancel(); <-ran }()

	const workers = 64
	type result struct {
		id, text string
		err      error
	}
	results := make(chan result, total)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < total; i += workers {
				user := fmt.Sprintf("user-%02d", i%50)
				e := event.Event{Type: event.Chat, ID: event.NewID(party, user, fmt.Sprint(i)), PartyID: party,
					UserID: user, CreatedAt: event.Millis(time.Now()), Text: fmt.Sprintf("backlog chat %d", i)}
				res, err := a.Append(ctx, e, true)
				if err == nil && res.Status != stream.Stored {
					err = fmt.Errorf("append status %v", res.Status)
				}
				results <- result{e.ID.String(), e.Text, err}
			}
		})
	}
	wg.Wait()
	close(results)
	out := make(map[string]string, total)
	for r := range results {
		if r.err != nil {
			t.Fatalf("append: %v", r.err)
		}
		out[r.id] = r.text
	}
	return out
}

// acknowledged returns the event ids of party's entries that group
// "flushers" has acknowledged: delivered, and no longer pending.
func acknowledged(t testing.TB, rdb *redis.Client, party string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	key := streamKey(party)
	groups, err := rdb.XInfoGroups(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	lastDelivered := "0-0"
	for _, g := range groups {
		if g.Name == stream.Group {
			lastDelivered = g.LastDeliveredID
		}
	}
	pending := map[string]bool{}
	for start := "-"; ; {
		ps, err := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: key, Group: stream.Group,
			Start: start, End: "+", Count: 10000}).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			pending[p.ID] = true
		}
		if len(ps) < 10000 {
			break
		}
		start = "(" + ps[len(ps)-1].ID
	}
	entries, err := rdb.XRange(ctx, key, "-", lastDelivered).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range entries {
		if pending[m.ID] {
			continue
		}
		out[entryEventID(t, m)] = true
	}
	return out
}

// TestFlusherSIGTERMUnderLoad stops a flusher while it works through a
// large backlog: it exits 0 within its shutdown timeout, everything it
// acknowledged is stored (nothing acknowledged half-written, nothing foreign
// written), and a `flusher run --once` under the same consumer name stores
// the rest, each chat once.
func TestFlusherSIGTERMUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("stops a flusher under load; skipped with -short")
	}
	const (
		total           = 50000
		batchSize       = 1000
		shutdownTimeout = 3 * time.Second
	)
	s := sharedSystem(t)
	party := s.party("ONGOING", "host")
	partyID := uuid.MustParse(party)
	began := time.Now()
	want := appendChats(t, s.rdb, partyID, total)
	t.Logf("%d chats appended in %v", total, time.Since(began))

	settings := []string{"WATCH_PARTY_CONSUMER_NAME=flusher-1", fmt.Sprintf("WATCH_PARTY_FLUSH_BATCH_SIZE=%d", batchSize)}
	fl := testenv.StartProc(t, "flusher", s.env(append(settings, "FLUSHER_METRICS_ADDR=127.0.0.1:0",
		fmt.Sprintf("WATCH_PARTY_SHUTDOWN_FLUSH_TIMEOUT_MS=%d", shutdownTimeout.Milliseconds()),
		"WATCH_PARTY_FLUSH_INTERVAL=1h", "WATCH_PARTY_VIEWER_SAMPLE_INTERVAL=1h")...), "run")
	count := `SELECT count(*) FROM watch_party_chats WHERE party_id = $1`
	var atSignal int
	eventually(t, 30*time.Second, "the flusher writing", func() bool {
		n, err := s.tryCount(count, party)
		atSignal = n
		return err == nil && n > 0
	})
	if atSignal >= total {
		t.Fatalf("the flusher wrote all %d chats before the SIGTERM; the test needs a bigger backlog", total)
	}
	fl.Signal(syscall.SIGTERM)
	signalled := time.Now()
	code, err := fl.Wait(shutdownTimeout + 2*time.Second)
	took := time.Since(signalled)
	if err != nil || code != 0 {
		t.Fatalf("flusher after SIGTERM: exit %d, %v", code, err)
	}
	if len(fl.Lines("flusher stopped")) == 0 {
		t.Fatal(`the flusher did not log "flusher stopped"`)
	}

	acked := acknowledged(t, s.rdb, party)
	stored := storedChats(t, s, party)
	backlog, err := stream.NewConsumer(s.rdb, "probe").Backlog(context.Background(), partyID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGTERM with %d stored; exit %v later with %d stored, %d acknowledged, %d left", atSignal, took,
		len(stored), len(acked), backlog)
	if len(acked) != total-int(backlog) {
		t.Fatalf("%d entries acknowledged, but the group's backlog is %d of %d", len(acked), backlog, total)
	}
	if backlog == 0 {
		t.Fatal("the flusher wrote the whole backlog after the SIGTERM instead of stopping")
	}
	for id := range acked {
		if _, ok := stored[id]; !ok {
			t.Fatalf("event %s acknowledged but not stored (%d acknowledged, %d stored)", id, len(acked), len(stored))
		}
	}
	for id, body := range stored {
		if want[id] != body {
			t.Fatalf("stored chat %s %q was never appended", id, body)
		}
	}

	s.flushOnce(settings...)
	if diff := cmp.Diff(want, storedChats(t, s, party)); diff != "" {
		t.Fatalf("chats after the second flush (-appended +stored):\n%s", diff)
	}
	if n, err := stream.NewConsumer(s.rdb, "probe").Backlog(context.Background(), partyID); err != nil || n != 0 {
		t.Fatalf("%d entries left unacknowledged (%v)", n, err)
	}
}

// TestFlusherSIGTERMWithBatchStuck stops a flusher whose batch cannot
// commit (the table is locked): it must give up the batch when
// WATCH_PARTY_SHUTDOWN_FLUSH_TIMEOUT_MS runs out, exit 0, and leave the
// batch pending, not acknowledged; the next flush stores everything once.
func TestFlusherSIGTERMWithBatchStuck(t *testing.T) {
	if testing.Short() {
		t.Skip("stops a flusher with a batch stuck; skipped with -short")
	}
	const (
		total           = 5000
		shutdownTimeout = 2 * time.Second
	)
	s := sharedSystem(t)
	party := s.party("ONGOING", "host")
	partyID := uuid.MustParse(party)
	want := appendChats(t, s.rdb, partyID, total)
	ctx := context.Background()

	lock, err := s.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx) //nolint:errcheck // released below; a no-op then
	if _, err := lock.Exec(ctx, `LOCK TABLE watch_party_chats IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	settings := []string{"WATCH_PARTY_CONSUMER_NAME=flusher-1", "WATCH_PARTY_FLUSH_BATCH_SIZE=1000"}
	fl := testenv.StartProc(t, "flusher", s.env(append(settings, "FLUSHER_METRICS_ADDR=127.0.0.1:0",
		fmt.Sprintf("WATCH_PARTY_SHUTDOWN_FLUSH_TIMEOUT_MS=%d", shutdownTimeout.Milliseconds()),
		"WATCH_PARTY_FLUSH_INTERVAL=1h", "WATCH_PARTY_VIEWER_SAMPLE_INTERVAL=1h")...), "run")
	eventually(t, 20*time.Second, "the flusher waiting for the locked table", func() bool {
		n, err := s.tryCount(`SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'watch_party_chats'::regclass`)
		return err == nil && n > 0
	})
	fl.Signal(syscall.SIGTERM)
	signalled := time.Now()
	code, err := fl.Wait(shutdownTimeout + 2*time.Second)
	took := time.Since(signalled)
	if err != nil || code != 0 {
		t.Fatalf("flusher after SIGTERM with a stuck batch: exit %d, %v", code, err)
	}
	t.Logf("flusher exited %v after SIGTERM", took)
	if took < shutdownTimeout-100*time.Millisecond {
		t.Fatalf("flusher exited after %v, before its %v shutdown timeout, while its batch could not commit", took, shutdownTimeout)
	}
	if len(fl.Lines("shutdown timeout reached")) == 0 || len(fl.Lines("flusher stopped")) == 0 {
		t.Fatal(`the flusher did not log "shutdown timeout reached" and "flusher stopped"`)
	}
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	if acked := acknowledged(t, s.rdb, party); len(acked) != 0 {
		t.Fatalf("%d entries acknowledged although nothing could be committed", len(acked))
	}
	if n := s.count(`SELECT count(*) FROM watch_party_chats WHERE party_id = $1`, party); n != 0 {
		t.Fatalf("%d chats stored from a batch that was given up", n)
	}
	s.flushOnce(settings...)
	if diff := cmp.Diff(want, storedChats(t, s, party)); diff != "" {
		t.Fatalf("chats after the second flush (-appended +stored):\n%s", diff)
	}
	if n, err := stream.NewConsumer(s.rdb, "probe").Backlog(ctx, partyID); err != nil || n != 0 {
		t.Fatalf("%d entries left unacknowledged (%v)", n, err)
	}
}
