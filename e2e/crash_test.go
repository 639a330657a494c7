package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// TestFlusherKilledMidBacklogIsFinishedByAnother kills a flusher with
// SIGKILL in the middle of a 100,000-event backlog; a second flusher with
// another name claims the dead one's pending entries after
// WATCH_PARTY_CLAIM_MIN_IDLE and finishes the job: every event is stored
// exactly once and nothing stays pending.
func TestFlusherKilledMidBacklogIsFinishedByAnother(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a flusher; skipped with -short")
	}
	s := sharedSystem(t)
	parties := []string{s.party("ONGOING", "host"), s.party("ONGOING", "host")}
	want := appendBacklog(t, s, parties, 50_000)

	_, a := s.flusher("WATCH_PARTY_CONSUMER_NAME=a", "WATCH_PARTY_FLUSH_BATCH_SIZE=2000", "WATCH_PARTY_FLUSH_INTERVAL=100ms")
	atKill := killMidway(t, s, a, 10_000, len(want))
	pendingA := consumerPending(t, s, parties, "a")
	if pendingA == 0 {
		t.Fatalf("nothing pending on the killed flusher (%d rows written): the kill did not land mid-batch", atKill)
	}
	t.Logf("killed a with %d of %d rows written and %d entries pending on it", atKill, len(want), pendingA)

	_, b := s.flusher("WATCH_PARTY_CONSUMER_NAME=b", "WATCH_PARTY_FLUSH_BATCH_SIZE=2000",
		"WATCH_PARTY_FLUSH_INTERVAL=100ms", "WATCH_PARTY_CLAIM_MIN_IDLE=1s")
	waitFlushed(t, s, parties, len(want), 40*time.Second)
	claimed := 0
	for _, l := range b.Lines("claimed entries pending on a dead flusher") {
		claimed += logInt(t, l, "entries")
	}
	if claimed < int(pendingA) {
		t.Fatalf("b claimed %d entries, want the %d pending on a", claimed, pendingA)
	}
	if n := consumerPending(t, s, parties, "a"); n != 0 {
		t.Fatalf("%d entries still pending on a", n)
	}
	checkChatSet(t, s, parties, want)
}

// TestFlusherRestartedWithSameNameResumes kills a flusher mid-backlog and
// starts it again under the same consumer name: it resumes its own pending
// entries at once, although WATCH_PARTY_CLAIM_MIN_IDLE (an hour) rules out
// any claim.
func TestFlusherRestartedWithSameNameResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a flusher; skipped with -short")
	}
	s := sharedSystem(t)
	parties := []string{s.party("ONGOING", "host")}
	want := appendBacklog(t, s, parties, 40_000)
	settings := []string{"WATCH_PARTY_CONSUMER_NAME=stable", "WATCH_PARTY_FLUSH_BATCH_SIZE=1000",
		"WATCH_PARTY_FLUSH_INTERVAL=100ms", "WATCH_PARTY_CLAIM_MIN_IDLE=1h"}

	_, first := s.flusher(settings...)
	atKill := killMidway(t, s, first, 5_000, len(want))
	pending := consumerPending(t, s, parties, "stable")
	if pending == 0 {
		t.Fatalf("nothing pending on the killed flusher (%d rows written): the kill did not land mid-batch", atKill)
	}
	t.Logf("killed the flusher with %d of %d rows written and %d entries pending on it", atKill, len(want), pending)

	_, second := s.flusher(settings...)
	waitFlushed(t, s, parties, len(want), 30*time.Second)
	if l := second.Lines("claimed entries pending on a dead flusher"); len(l) != 0 {
		t.Fatalf("the restarted flusher claimed entries: %v", l)
	}
	checkChatSet(t, s, parties, want)
}

// appendBacklog appends perParty chats to each party the way the gateway
// does (stream.Appender, many concurrent appends) and returns their event
// ids, each with its party and text ("<party> <text>").
func appendBacklog(t testing.TB, s *system, parties []string, perParty int) map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	app := stream.NewAppender(s.rdb, stream.AppenderConfig{})
	var run sync.WaitGroup
	run.Go(func() { _ = app.Run(ctx) })
	defer func() { cancel(); run.Wait() }()

	const senders = 64
	start := time.Now()
	ids := make([][]string, senders)
	errs := make(chan error, senders)
	var wg sync.WaitGroup
	for w := range senders {
		wg.Go(func() {
			for n := w; n < perParty*len(parties); n += senders {
				party := uuid.MustParse(parties[n%len(parties)])
				user := fmt.Sprintf("user-%d", w)
				e := event.Event{Type: event.Chat, ID: event.NewID(party, user, ""), PartyID: party, UserID: user,
					CreatedAt: event.Millis(time.Now()), Text: fmt.Sprintf("backlog chat %d", n)}
				res, err := app.Append(ctx, e, false)
				if err == nil && res.Status != stream.Stored {
					err = fmt.Errorf("append status %v", res.Status)
				}
				if err != nil {
					errs <- err
					return
				}
				ids[w] = append(ids[w], e.ID.String()+" "+party.String()+" "+e.Text)
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("append backlog: %v", err)
	}
	out := make(map[string]string, perParty*len(parties))
	for _, l := range ids {
		for _, s := range l {
			id, rest, _ := strings.Cut(s, " ")
			out[id] = rest
		}
	}
	if len(out) != perParty*len(parties) {
		t.Fatalf("%d distinct events appended, want %d", len(out), perParty*len(parties))
	}
	t.Logf("appended %d events in %v", len(out), time.Since(start).Round(time.Millisecond))
	return out
}

// killMidway kills p with SIGKILL as soon as more than from chats are in
// PostgreSQL, and returns how many were there once it was dead. It fails
// the test when p wrote everything before it could be killed.
func killMidway(t testing.TB, s *system, p *testenv.Proc, from, total int) int {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("more than %d chats written", from), func() bool {
		return s.count(`SELECT count(*) FROM watch_party_chats`) > from
	})
	p.Signal(syscall.SIGKILL)
	if _, err := p.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	n := s.count(`SELECT count(*) FROM watch_party_chats`)
	if n >= total {
		t.Fatalf("the flusher wrote all %d chats before it was killed: append more events or lower the batch size", total)
	}
	return n
}

// consumerPending returns how many entries of the parties' streams are
// pending on consumer name.
func consumerPending(t testing.TB, s *system, parties []string, name string) int64 {
	t.Helper()
	var n int64
	for _, p := range parties {
		cs, err := s.rdb.XInfoConsumers(context.Background(), streamKey(p), stream.Group).Result()
		if err != nil && strings.HasPrefix(err.Error(), "NOGROUP") {
			continue // no flusher got to this party yet
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Name == name {
				n += c.Pending
			}
		}
	}
	return n
}

// waitFlushed waits until total chats are stored and nothing of the
// parties' streams is unacknowledged.
func waitFlushed(t testing.TB, s *system, parties []string, total int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	eventually(t, timeout, fmt.Sprintf("all %d chats written", total), func() bool {
		return s.count(`SELECT count(*) FROM watch_party_chats`) >= total
	})
	for _, p := range parties {
		eventually(t, time.Until(deadline), "nothing unacknowledged on party "+p, func() bool {
			n, err := stream.NewConsumer(s.rdb, "probe").Backlog(context.Background(), uuid.MustParse(p))
			return err == nil && n == 0 && pendingCount(t, s, p) == 0
		})
	}
}

// checkChatSet compares the stored chats with want (event id -> "<party>
// <text>"): the same set, each row once.
func checkChatSet(t testing.TB, s *system, parties []string, want map[string]string) {
	t.Helper()
	rows := s.rows(`SELECT event_id, party_id, body FROM watch_party_chats`)
	got := make(map[string]string, len(rows))
	for _, r := range rows {
		if _, dup := got[r[0]]; dup {
			t.Fatalf("event %s stored twice", r[0])
		}
		got[r[0]] = r[1] + " " + r[2]
	}
	if len(rows) != len(want) || !maps.Equal(got, want) {
		var missing, extra []string
		for id := range want {
			if _, ok := got[id]; !ok {
				missing = append(missing, id)
			}
		}
		for id := range got {
			if _, ok := want[id]; !ok {
				extra = append(extra, id)
			}
		}
		var differ []string
		for id, v := range want {
			if g, ok := got[id]; ok && g != v {
				differ = append(differ, id+": "+g+", want "+v)
			}
		}
		t.Fatalf("%d rows stored, want %d: %d missing (%.5v), %d not appended (%.5v), %d with another party or text (%.5v)",
			len(rows), len(want), len(missing), missing, len(extra), extra, len(differ), differ)
	}
	if n := s.count(`SELECT count(DISTINCT event_id) FROM watch_party_chats`); n != len(want) {
		t.Fatalf("%d distinct event ids, want %d", n, len(want))
	}
	for _, p := range parties {
		if n := pendingCount(t, s, p); n != 0 {
			t.Fatalf("%d entries still pending on party %s", n, p)
		}
	}
}

// logInt returns the integer attribute key of a JSON log line.
func logInt(t testing.TB, line, key string) int {
	t.Helper()
	var n int
	i := strings.Index(line, `"`+key+`":`)
	if i < 0 {
		t.Fatalf("log line without %s: %s", key, line)
	}
	if _, err := fmt.Sscanf(line[i+len(key)+3:], "%d", &n); err != nil {
		t.Fatalf("log line %s: %v", line, err)
	}
	return n
}

// chatter is a viewer that sends chats with client ids, one at a time,
// waiting for each answer, and records what it sent and what was acked.
type chatter struct {
	user  string
	party uuid.UUID
	addr  string

	mu      sync.Mutex
	sent    map[string]bool   // client ids sent at least once
	acked   map[string]string // client id -> event id
	streams map[string]string // client id -> stream id of the ack
	redials int
}

func newChatter(addr, party, user string) *chatter {
	return &chatter{user: user, party: uuid.MustParse(party), addr: addr, sent: map[string]bool{}, acked: map[string]string{},
		streams: map[string]string{}}
}

// chatText is the text user sends under client id cid.
func chatText(user, cid string) string { return user + " says " + cid }

// errConnClosed says the viewer's connection closed.
var errConnClosed = errors.New("connection closed")

// chat sends client id cid on c and waits for its ack or error; it returns
// the error frame's code, or errConnClosed.
func (ch *chatter) chat(c *client, cid string) (string, error) {
	return ch.sendAcked(c, cid, fmt.Appendf(nil, `{"type":"chat","id":%q,"text":%q}`, cid, chatText(ch.user, cid)))
}

// sendAcked sends frame b, of client id cid, on c and waits for its ack
// or error, as chat does.
func (ch *chatter) sendAcked(c *client, cid string, b []byte) (string, error) {
	ch.mu.Lock()
	ch.sent[cid] = true
	ch.mu.Unlock()
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		return "", errConnClosed
	}
	timeout := time.After(15 * time.Second)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return "", errConnClosed
			}
			switch {
			case f.Type == "ack" && f.ID == cid:
				if want := event.NewID(ch.party, ch.user, cid).String(); f.EventID != want {
					return "", fmt.Errorf("%s: %s acked as event %s, want %s", ch.user, cid, f.EventID, want)
				}
				ch.mu.Lock()
				ch.acked[cid] = f.EventID
				ch.streams[cid] = f.StreamID
				ch.mu.Unlock()
				return "", nil
			case f.Type == "error" && f.ID == cid:
				return f.Code, nil
			case f.Type == "ack" || f.Type == "error":
				return "", fmt.Errorf("%s: answer %s while waiting for %s", ch.user, f.Raw, cid)
			}
		case <-timeout:
			return "", fmt.Errorf("%s: no answer to %s within 15s", ch.user, cid)
		}
	}
}

// connect dials the gateway and waits for the welcome.
func (ch *chatter) connect(t testing.TB) (*client, error) {
	c, _, err := tryDial(t, wsURL(ch.addr, ch.party.String(), url.Values{"user": {ch.user}}), nil)
	if err != nil {
		return nil, err
	}
	c.user = ch.user
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return nil, errConnClosed
			}
			if f.Type == "welcome" {
				return c, nil
			}
		case <-time.After(10 * time.Second):
			_ = c.conn.Close()
			return nil, fmt.Errorf("%s: no welcome", ch.user)
		}
	}
}

func (ch *chatter) snapshot() (sent map[string]bool, acked map[string]string) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return maps.Clone(ch.sent), maps.Clone(ch.acked)
}

// checkChatters checks the party's stored chats against what the chatters
// sent: every acked chat is stored with its text, and every stored chat is
// one a chatter sent, under the event id its client id derives, once.
func checkChatters(t testing.TB, s *system, party string, chatters []*chatter) (acked, stored int) {
	t.Helper()
	type sentChat struct {
		user, cid string
		acked     bool
	}
	byEvent := map[string]sentChat{}
	wantAcked := map[string][]string{} // event id -> user, body
	for _, ch := range chatters {
		sent, ack := ch.snapshot()
		for cid := range sent {
			id := event.NewID(ch.party, ch.user, cid).String()
			_, ok := ack[cid]
			byEvent[id] = sentChat{ch.user, cid, ok}
			if ok {
				wantAcked[id] = []string{ch.user, chatText(ch.user, cid)}
			}
		}
	}
	rows := s.rows(`SELECT event_id, user_id, body FROM watch_party_chats WHERE party_id = $1`, party)
	gotAcked := map[string][]string{}
	bodies := map[string]bool{}
	for _, r := range rows {
		sc, ok := byEvent[r[0]]
		if !ok {
			t.Fatalf("stored chat %v was never sent", r)
		}
		if r[1] != sc.user || r[2] != chatText(sc.user, sc.cid) {
			t.Fatalf("stored chat %v, want user %s and the text of %s", r, sc.user, sc.cid)
		}
		if bodies[r[2]] {
			t.Fatalf("chat %q stored twice", r[2])
		}
		bodies[r[2]] = true
		if sc.acked {
			gotAcked[r[0]] = []string{r[1], r[2]}
		}
	}
	if diff := cmp.Diff(wantAcked, gotAcked); diff != "" {
		t.Fatalf("acknowledged chats in PostgreSQL (-acked +stored):\n%s", diff)
	}
	return len(wantAcked), len(rows)
}

// TestGatewayKilledWhileViewersSend kills a gateway with SIGKILL while 15
// viewers chat continuously: every chat a viewer saw acknowledged is
// flushed to PostgreSQL, once; chats in flight at the kill may or may not
// be, but nothing is stored that was not sent.
func TestGatewayKilledWhileViewersSend(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a gateway; skipped with -short")
	}
	s := sharedSystem(t)
	party := s.party("ONGOING", "host")
	addr, gw := s.gateway()

	var chatters []*chatter
	var clients []*client
	for i := range 15 {
		ch := newChatter(addr, party, fmt.Sprintf("viewer-%02d", i))
		c, err := ch.connect(t)
		if err != nil {
			t.Fatal(err)
		}
		chatters, clients = append(chatters, ch), append(clients, c)
	}
	var total atomic.Int64
	errs := make(chan error, len(chatters))
	var wg sync.WaitGroup
	for i, ch := range chatters {
		wg.Go(func() {
			for n := 0; ; n++ {
				code, err := ch.chat(clients[i], fmt.Sprintf("m%d", n))
				switch {
				case errors.Is(err, errConnClosed):
					errs <- nil
					return
				case err != nil:
					errs <- err
					return
				case code != "":
					errs <- fmt.Errorf("%s: m%d answered %s", ch.user, n, code)
					return
				}
				total.Add(1)
			}
		})
	}
	eventually(t, 30*time.Second, "1500 chats acknowledged", func() bool { return total.Load() >= 1500 })
	gw.Signal(syscall.SIGKILL)
	killedAt := total.Load()
	wg.Wait() // every connection drops
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	s.flushOnce()
	acked, stored := checkChatters(t, s, party, chatters)
	t.Logf("%d chats acked (%d when the kill was sent), %d stored", acked, killedAt, stored)
	if int64(acked) < killedAt {
		t.Fatalf("%d acks counted, fewer than the %d before the kill", acked, killedAt)
	}
}
