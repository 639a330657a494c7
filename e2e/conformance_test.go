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

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

// A conformance case says how one event kind is produced and what each
// stage of the pipeline must show for it. Every stage is declared: a check,
// or na with the reason it does not apply.
type conformanceCase struct {
	kind    event.Type
	sender  string // the user whose event it is; "" for the flusher's samples
	produce func(t *testing.T, p *confParty, sender string) *sent

	ack, stream, fanout, welcome, state, postgres, history, dlq, erasure stage
}

// stage is one stage's check for a kind, or why it does not apply.
type stage struct {
	check func(t *testing.T, x *conformance, s *sent)
	na    string
}

func na(why string) stage { return stage{na: why} }

func do(check func(t *testing.T, x *conformance, s *sent)) stage { return stage{check: check} }

// sent is one produced event: the frame a client sent (nil for kinds no
// client sends), its ack, the event as the party's stream holds it, and
// what the second gateway showed of it.
type sent struct {
	user    string
	msg     map[string]any
	ack     frame
	ev      event.Event
	seen    *frame        // the broadcast a viewer on the other gateway received
	welcome *welcomeFrame // a new viewer's welcome on the other gateway, right after
}

type welcomeFrame struct {
	Likes    int64 `json:"likes"`
	Playback struct {
		State      string  `json:"state"`
		PositionMS int64   `json:"position_ms"`
		UpdatedAt  *string `json:"updated_at"`
	} `json:"playback"`
	LastID  string  `json:"last_id"`
	Role    string  `json:"role"`
	History []frame `json:"history"`
}

// stages names the stages in the order the test runs them.
func (c *conformanceCase) stages() []struct {
	name string
	st   *stage
} {
	return []struct {
		name string
		st   *stage
	}{{"ack", &c.ack}, {"stream", &c.stream}, {"fanout", &c.fanout}, {"welcome", &c.welcome},
		{"state", &c.state}, {"postgres", &c.postgres}, {"history", &c.history}, {"dlq", &c.dlq},
		{"erasure", &c.erasure}}
}

// conformanceCases holds one case per declared event kind. Play, pause and
// seek must stay in this order: each welcome shows the playback they leave.
func conformanceCases() []conformanceCase {
	const whyNotSent = "not sent by a client: no ack"
	const whyNoHistory = "history and the welcome's history hold chats only"
	const whyNoWelcome = "the welcome does not show it"
	const whyNoState = "it leaves no moderation state"
	playback := func(kind event.Type, user string, pos int64, state string) conformanceCase {
		return conformanceCase{kind: kind, sender: user,
			produce:  fromFrame(nil, map[string]any{"type": string(kind), "position_ms": pos}),
			ack:      do(checkAck),
			stream:   do(checkStream),
			fanout:   do(checkFanout),
			welcome:  do(checkPlayback(state, pos)),
			state:    na(whyNoState),
			postgres: do(checkRow(logsTable, logRow)),
			history:  na(whyNoHistory),
			dlq:      do(checkDeadLettered(logsTable)),
			erasure:  do(checkErased(logsTable)),
		}
	}
	moderation := func(kind event.Type, user string, setup func(t *testing.T, p *confParty) map[string]any,
		msg map[string]any, state stage) conformanceCase {
		return conformanceCase{kind: kind, sender: user,
			produce:  fromFrame(setup, msg),
			ack:      do(checkAck),
			stream:   do(checkStream),
			fanout:   do(checkFanout),
			welcome:  na("the welcome shows only the joiner's own role, which this action leaves"),
			state:    state,
			postgres: do(checkRow(logsTable, logRow)),
			history:  na(whyNoHistory),
			dlq:      do(checkDeadLettered(logsTable)),
			erasure:  do(checkUnattributed),
		}
	}
	moderator := func(user string, then func(t *testing.T, p *confParty)) func(t *testing.T, p *confParty) map[string]any {
		return func(t *testing.T, p *confParty) map[string]any {
			p.act(t, "host", map[string]any{"type": "moderator_add", "target_user_id": user})
			if then != nil {
				then(t, p)
			}
			return nil
		}
	}
	return []conformanceCase{
		{kind: event.Chat, sender: "chatter",
			produce:  fromFrame(nil, map[string]any{"type": "chat", "text": "a conformance chat"}),
			ack:      do(checkAck),
			stream:   do(checkStream),
			fanout:   do(checkFanout),
			welcome:  do(checkWelcomeHistory(true)),
			state:    na(whyNoState),
			postgres: do(checkRow(chatsTable, chatRow)),
			history:  do(checkHistory(true)),
			dlq:      do(checkDeadLettered(chatsTable)),
			erasure:  do(checkErased(chatsTable, checkChatForgotten)),
		},
		{kind: event.Like, sender: "liker",
			produce:  fromFrame(nil, map[string]any{"type": "like"}),
			ack:      do(checkAck),
			stream:   do(checkStream),
			fanout:   do(checkFanout),
			welcome:  do(checkLikes),
			state:    na(whyNoState),
			postgres: do(checkRow(likesTable, likeRow)),
			history:  na(whyNoHistory),
			dlq:      do(checkDeadLettered(likesTable)),
			erasure:  do(checkErased(likesTable, checkLikeUncounted)),
		},
		{kind: event.Reaction, sender: "reactor",
			produce:  fromFrame(nil, map[string]any{"type": "reaction", "emoji": "🎉"}),
			ack:      do(checkAck),
			stream:   do(checkStream),
			fanout:   do(checkFanout),
			welcome:  na(whyNoWelcome),
			state:    na(whyNoState),
			postgres: do(checkRow(countsTable, countRow)),
			history:  na(whyNoHistory),
			dlq:      do(checkDeadLettered(countsTable)),
			erasure:  do(checkEntryErasedCountKept),
		},
		playback(event.Play, "player", 120000, "playing"),
		playback(event.Pause, "pauser", 125000, "paused"),
		playback(event.Seek, "seeker", 30000, "paused"),
		{kind: event.Join, sender: "joiner",
			produce:  joining(false),
			ack:      na(whyNotSent),
			stream:   do(checkStream),
			fanout:   na("not broadcast: viewers learn of joins through the viewers count"),
			welcome:  na(whyNoWelcome),
			state:    na(whyNoState),
			postgres: do(checkRow(logsTable, logRow)),
			history:  na(whyNoHistory),
			dlq:      do(checkDeadLettered(logsTable)),
			erasure:  do(checkErased(logsTable)),
		},
		{kind: event.Leave, sender: "leaver",
			produce:  joining(true),
			ack:      na(whyNotSent),
			stream:   do(checkStream),
			fanout:   na("not broadcast: viewers learn of leaves through the viewers count"),
			welcome:  na(whyNoWelcome),
			state:    na(whyNoState),
			postgres: do(checkRow(logsTable, logRow)),
			history:  na(whyNoHistory),
			dlq:      do(checkDeadLettered(logsTable)),
			erasure:  do(checkErased(logsTable)),
		},
		{kind: event.Viewers,
			produce:  sampled,
			ack:      na(whyNotSent),
			stream:   do(checkStream),
			fanout:   na("not broadcast: the viewers frame is the live count, not this sample"),
			welcome:  na("the welcome's viewers is the live count, not a sample"),
			state:    na(whyNoState),
			postgres: do(checkRow(viewersTable, viewersRow)),
			history:  na(whyNoHistory),
			dlq:      do(checkDeadLettered(viewersTable)),
			erasure:  na("a sample belongs to nobody"),
		},
		{kind: event.Delete, sender: "m-delete",
			produce: fromFrame(func(t *testing.T, p *confParty) map[string]any {
				p.act(t, "host", map[string]any{"type": "moderator_add", "target_user_id": "m-delete"})
				victim := p.act(t, "victim", map[string]any{"type": "chat", "text": "a chat to delete"})
				return map[string]any{"target_event_id": victim.EventID}
			}, map[string]any{"type": "delete"}),
			ack:      do(checkAck),
			stream:   do(checkStream),
			fanout:   do(checkFanout),
			welcome:  do(checkWelcomeHistory(false)),
			state:    na("a delete's state is the chat it hides: see history"),
			postgres: do(checkDeleteRows),
			history:  do(checkHistory(false)),
			dlq:      do(checkDeadLettered(logsTable)),
			erasure:  do(checkUnattributed),
		},
		moderation(event.Mute, "m-mute", moderator("m-mute", nil),
			map[string]any{"type": "mute", "target_user_id": "t-mute", "duration_s": 600}, do(checkMuted(true))),
		moderation(event.Unmute, "m-unmute", moderator("m-unmute", func(t *testing.T, p *confParty) {
			p.act(t, "m-unmute", map[string]any{"type": "mute", "target_user_id": "t-unmute", "duration_s": 600})
		}), map[string]any{"type": "unmute", "target_user_id": "t-unmute"}, do(checkMuted(false))),
		moderation(event.Kick, "m-kick", moderator("m-kick", func(t *testing.T, p *confParty) { p.target(t, "t-kick") }),
			map[string]any{"type": "kick", "target_user_id": "t-kick"}, do(checkClosed("kicked"))),
		moderation(event.Ban, "m-ban", moderator("m-ban", func(t *testing.T, p *confParty) { p.target(t, "t-ban") }),
			map[string]any{"type": "ban", "target_user_id": "t-ban"}, do(checkBanned(true))),
		moderation(event.Unban, "m-unban", moderator("m-unban", func(t *testing.T, p *confParty) {
			p.act(t, "m-unban", map[string]any{"type": "ban", "target_user_id": "t-unban"})
		}), map[string]any{"type": "unban", "target_user_id": "t-unban"}, do(checkBanned(false))),
		withWelcome(do(checkRole("moderator")), moderation(event.ModeratorAdd, "host", nil,
			map[string]any{"type": "moderator_add", "target_user_id": "t-modadd"}, do(checkModerator(true)))),
		withWelcome(do(checkRole("viewer")), moderation(event.ModeratorRemove, "host", func(t *testing.T, p *confParty) map[string]any {
			p.act(t, "host", map[string]any{"type": "moderator_add", "target_user_id": "t-modrm"})
			return nil
		}, map[string]any{"type": "moderator_remove", "target_user_id": "t-modrm"}, do(checkModerator(false)))),
	}
}

// withWelcome is c with its welcome stage st.
func withWelcome(st stage, c conformanceCase) conformanceCase {
	c.welcome = st
	return c
}

// checkDeclarations fails for a declared kind without a case, a case of a
// kind that is not declared, a case twice, a stage left undeclared, and a
// case at odds with its kind's declaration (who sends it, who sees it).
func checkDeclarations(t *testing.T, cases []conformanceCase) {
	t.Helper()
	seen := map[event.Type]bool{}
	for _, c := range cases {
		if !slices.Contains(event.Types, c.kind) {
			t.Errorf("case for %q, which event.Types does not declare", c.kind)
		}
		if seen[c.kind] {
			t.Errorf("two cases for %q", c.kind)
		}
		seen[c.kind] = true
		for _, st := range c.stages() {
			if (st.st.check == nil) == (st.st.na == "") {
				t.Errorf("%s: stage %s is neither a check nor declared not applicable", c.kind, st.name)
			}
		}
		if (c.ack.check != nil) != c.kind.Inbound() {
			t.Errorf("%s: ack stage declared %v, but Inbound() is %v", c.kind, c.ack.check != nil, c.kind.Inbound())
		}
		if (c.fanout.check != nil) != c.kind.Broadcast() {
			t.Errorf("%s: fan-out stage declared %v, but Broadcast() is %v", c.kind, c.fanout.check != nil, c.kind.Broadcast())
		}
		if (c.erasure.na == "") != (c.sender != "") {
			t.Errorf("%s: erasure declared %v with sender %q", c.kind, c.erasure.na == "", c.sender)
		}
	}
	for _, k := range event.Types {
		if !seen[k] {
			t.Errorf("event kind %q has no conformance case", k)
		}
	}
}

// TestConformance runs every declared event kind through each stage of the
// pipeline that applies to it, on one system: the frame and its ack, the
// party's stream, the fan-out to a viewer on a second gateway, a new
// viewer's welcome there, the moderation state, the PostgreSQL row the
// flusher writes, the chat history, the dead-letter list and its replay (a
// second party whose rows PostgreSQL refuses), and the sender's erasure.
func TestConformance(t *testing.T) {
	cases := conformanceCases()
	t.Run("declared", func(t *testing.T) { checkDeclarations(t, cases) })
	if t.Failed() {
		return
	}

	s := newSystem(t, testenv.StartRedis(t).URL(), testenv.NewDatabase(t, store.Migrate)) // wp:dlq is global
	x := &conformance{top: t, s: s}
	x.gw1, _ = s.gateway()
	x.gw2, _ = s.gateway()
	x.main, x.dead = x.party(t), x.party(t)
	for _, table := range eventTables {
		s.exec(t, fmt.Sprintf(`ALTER TABLE %s ADD CONSTRAINT conformance_dead CHECK (party_id <> '%s') NOT VALID`, table, x.dead.id))
	}
	s.flusher("WATCH_PARTY_FLUSH_INTERVAL=200ms", "WATCH_PARTY_MAX_DELIVERIES=1",
		"WATCH_PARTY_SCHEDULER_INTERVAL=300ms", "WATCH_PARTY_VIEWER_SAMPLE_INTERVAL=1s")

	produced := map[event.Type]*sent{}
	deadProduced := map[event.Type]*sent{}
	t.Run("produce", func(t *testing.T) {
		for _, c := range cases {
			t.Run(string(c.kind), func(t *testing.T) {
				s := c.produce(t, x.main, c.sender)
				if c.welcome.check != nil {
					s.welcome = x.main.welcome(t)
				}
				produced[c.kind] = s
				deadProduced[c.kind] = c.produce(t, x.dead, c.sender)
			})
		}
	})

	run := func(name string, before func(t *testing.T), pick func(c *conformanceCase) stage, of map[event.Type]*sent) {
		t.Run(name, func(t *testing.T) {
			if before != nil {
				before(t)
			}
			for _, c := range cases {
				t.Run(string(c.kind), func(t *testing.T) {
					st := pick(&c)
					if st.check == nil {
						t.Skipf("not applicable: %s", st.na)
					}
					s := of[c.kind]
					if s == nil {
						t.Fatal("not produced")
					}
					st.check(t, x, s)
				})
			}
		})
	}
	run("ack", nil, func(c *conformanceCase) stage { return c.ack }, produced)
	run("stream", nil, func(c *conformanceCase) stage { return c.stream }, produced)
	run("fanout", nil, func(c *conformanceCase) stage { return c.fanout }, produced)
	run("welcome", nil, func(c *conformanceCase) stage { return c.welcome }, produced)
	run("state", nil, func(c *conformanceCase) stage { return c.state }, produced)
	run("postgres", nil, func(c *conformanceCase) stage { return c.postgres }, produced)
	run("history", nil, func(c *conformanceCase) stage { return c.history }, produced)
	run("dlq", nil, func(c *conformanceCase) stage { return c.dlq }, deadProduced)
	run("replay", x.replay, func(c *conformanceCase) stage {
		if c.dlq.check == nil {
			return c.dlq
		}
		return do(checkReplayedOnce(c.postgres))
	}, deadProduced)
	run("erasure", func(t *testing.T) { x.erase(t, cases) }, func(c *conformanceCase) stage { return c.erasure }, produced)
}

// conformance is the shared system: two gateways, a flusher, the party
// every stage but the dead-letter list looks at, and a party whose rows
// PostgreSQL refuses until the replay.
type conformance struct {
	top        *testing.T // owns the connections, which outlive subtests
	s          *system
	gw1, gw2   string
	main, dead *confParty
	ids        int // client message ids used so far
}

// confParty is one party of the test: its viewers send on the first
// gateway, and watcher follows it on the second.
type confParty struct {
	x       *conformance
	id      string
	conns   map[string]*client
	watcher *client
	frames  []frame // what watcher received so far
}

func (x *conformance) party(t *testing.T) *confParty {
	id := x.s.party("ONGOING", "host")
	x.s.exec(t, `UPDATE watch_parties SET control = 'everyone' WHERE id = $1`, id)
	p := &confParty{x: x, id: id, conns: map[string]*client{}}
	p.watcher = x.connect(t, x.gw2, id, "watcher")
	p.watcher.nextOf("welcome", 10*time.Second)
	return p
}

// connect dials user into party on gw. The connection lives until the test
// ends; c.t is the calling subtest's.
func (x *conformance) connect(t *testing.T, gw, party, user string) *client {
	t.Helper()
	c, resp, err := tryDial(x.top, wsURL(gw, party, url.Values{"user": {user}}), nil)
	if err != nil {
		t.Fatalf("dial %s as %s: %v (%s)", party, user, err, statusOf(resp))
	}
	c.user, c.t = user, t
	return c
}

// conn returns user's connection to p on the first gateway.
func (p *confParty) conn(t *testing.T, user string) *client {
	t.Helper()
	c := p.conns[user]
	if c == nil {
		c = p.x.connect(t, p.x.gw1, p.id, user)
		c.nextOf("welcome", 10*time.Second)
		p.conns[user] = c
	}
	c.t = t
	return c
}

// target connects user on the second gateway, to be acted on.
func (p *confParty) target(t *testing.T, user string) {
	t.Helper()
	c := p.x.connect(t, p.x.gw2, p.id, user)
	c.nextOf("welcome", 10*time.Second)
	p.conns[user] = c
}

// nextID returns a client message id not used before in the test.
func (x *conformance) nextID() string {
	x.ids++
	return fmt.Sprintf("f%d", x.ids)
}

// act sends msg from user, with a fresh client id unless it has one, and
// returns its ack, failing on an error frame.
func (p *confParty) act(t *testing.T, user string, msg map[string]any) frame {
	t.Helper()
	if msg["id"] == nil {
		msg = mergeMsg(msg, map[string]any{"id": p.x.nextID()})
	}
	id := msg["id"]
	c := p.conn(t, user)
	c.send(msg)
	for {
		f := c.next(10 * time.Second)
		if f.ID != id {
			continue
		}
		if f.Type != "ack" {
			t.Fatalf("%s: %v answered %s", user, msg, f.Raw)
		}
		return f
	}
}

// seen returns the first frame the watcher received that matches match,
// waiting up to 10 s for it, or nil.
func (p *confParty) seen(t *testing.T, match func(f frame) bool) *frame {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		for i == len(p.frames) {
			select {
			case f, ok := <-p.watcher.frames:
				if !ok {
					t.Fatalf("watcher closed: %v", p.watcher.err())
				}
				p.frames = append(p.frames, f)
			case <-deadline:
				return nil
			}
		}
		if f := p.frames[i]; match(f) {
			return &f
		}
	}
}

// welcome returns the welcome of a new viewer on the second gateway.
func (p *confParty) welcome(t *testing.T) *welcomeFrame {
	t.Helper()
	return p.welcomeOf(t, "probe-"+p.x.nextID())
}

// welcomeOf returns the welcome of user's new connection on the second
// gateway.
func (p *confParty) welcomeOf(t *testing.T, user string) *welcomeFrame {
	t.Helper()
	c := p.x.connect(t, p.x.gw2, p.id, user)
	defer c.conn.Close()
	w := c.nextOf("welcome", 10*time.Second)
	var out welcomeFrame
	if err := json.Unmarshal([]byte(w.Raw), &out); err != nil {
		t.Fatalf("welcome %s: %v", w.Raw, err)
	}
	return &out
}

// entries returns the party's stream entries that decode, in order.
func (p *confParty) entries(t *testing.T) []event.Event {
	t.Helper()
	msgs, err := p.x.s.rdb.XRange(context.Background(), streamKey(p.id), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	for _, m := range msgs {
		raw, _ := m.Values["e"].(string)
		if e, err := event.Decode([]byte(raw), m.ID); err == nil {
			out = append(out, e)
		}
	}
	return out
}

// entry returns the party's stream entry with the given id.
func (p *confParty) entry(t *testing.T, id string) (event.Event, bool) {
	t.Helper()
	for _, e := range p.entries(t) {
		if e.StreamID == id {
			return e, true
		}
	}
	return event.Event{}, false
}

// fromFrame produces an inbound kind: setup (may be nil) runs first and
// returns more fields of the frame; user sends it and gets its ack.
func fromFrame(setup func(t *testing.T, p *confParty) map[string]any, msg map[string]any) func(t *testing.T, p *confParty, user string) *sent {
	return func(t *testing.T, p *confParty, user string) *sent {
		t.Helper()
		var more map[string]any
		if setup != nil {
			more = setup(t, p)
		}
		msg := mergeMsg(msg, more)
		msg["id"] = p.x.nextID()
		ack := p.act(t, user, msg)
		s := &sent{user: user, msg: msg, ack: ack}
		e, ok := p.entry(t, ack.StreamID)
		if !ok {
			t.Fatalf("no stream entry %s for the ack %s", ack.StreamID, ack.Raw)
		}
		s.ev = e
		s.seen = p.seen(t, func(f frame) bool { return f.EventID == ack.EventID && f.Type == msg["type"] })
		return s
	}
}

// joining produces a join, or a join and a leave, by user.
func joining(leave bool) func(t *testing.T, p *confParty, user string) *sent {
	kind := event.Join
	if leave {
		kind = event.Leave
	}
	return func(t *testing.T, p *confParty, user string) *sent {
		t.Helper()
		c := p.conn(t, user)
		if leave {
			_ = c.conn.Close()
			delete(p.conns, user)
		}
		s := awaitEntry(t, p, kind, func(e event.Event) bool { return e.UserID == user })
		s.user = user
		return s
	}
}

// sampled produces a viewer-count sample: the flusher's scheduler records
// one per ongoing party every sample interval.
func sampled(t *testing.T, p *confParty, _ string) *sent {
	t.Helper()
	return awaitEntry(t, p, event.Viewers, func(event.Event) bool { return true })
}

func awaitEntry(t *testing.T, p *confParty, kind event.Type, match func(e event.Event) bool) *sent {
	t.Helper()
	var found *event.Event
	eventually(t, 10*time.Second, fmt.Sprintf("a %s entry in the stream", kind), func() bool {
		for _, e := range p.entries(t) {
			if e.Type == kind && match(e) {
				found = &e
				return true
			}
		}
		return false
	})
	return &sent{ev: *found}
}

func mergeMsg(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// payload is what msg says of its event beyond type and id, as JSON values.
func payload(msg map[string]any) map[string]any {
	b, _ := json.Marshal(msg)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	delete(out, "type")
	delete(out, "id")
	delete(out, "duration_s") // a mute's until, checked on its own
	return out
}

func checkAck(t *testing.T, _ *conformance, s *sent) {
	if _, err := uuid.Parse(s.ack.EventID); err != nil || s.ack.StreamID == "" || s.ack.ID != s.msg["id"] {
		t.Fatalf("ack %s for %v: want its id, an event_id and a stream_id", s.ack.Raw, s.msg)
	}
}

func checkStream(t *testing.T, x *conformance, s *sent) {
	e, ok := x.main.entry(t, s.ev.StreamID)
	if !ok {
		t.Fatalf("no entry %s in the party's stream", s.ev.StreamID)
	}
	if e.PartyID.String() != x.main.id || e.CreatedAt.IsZero() || e.UserID != s.user || e.Type != s.ev.Type {
		t.Fatalf("entry %+v: want a %s of party %s by %q with a created_at", e, s.ev.Type, x.main.id, s.user)
	}
	if s.msg == nil {
		return
	}
	if string(e.Type) != s.msg["type"] || e.ID.String() != s.ack.EventID {
		t.Fatalf("entry %+v for the frame %v acked %s", e, s.msg, s.ack.Raw)
	}
	b, err := event.BroadcastFrame(e, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.Unmarshal(b, &got)
	for k, v := range payload(s.msg) {
		if !cmp.Equal(got[k], v) {
			t.Fatalf("entry carries %s = %v, the frame sent %v (%s)", k, got[k], v, b)
		}
	}
	if _, ok := s.msg["duration_s"]; ok {
		want := e.CreatedAt.Add(time.Duration(s.msg["duration_s"].(int)) * time.Second)
		if !e.Until.Equal(want) {
			t.Fatalf("entry's until %v, want created_at + duration_s = %v", e.Until, want)
		}
	}
}

func checkFanout(t *testing.T, _ *conformance, s *sent) {
	f := s.seen
	if f == nil {
		t.Fatalf("the viewer on the other gateway did not receive %s %s", s.msg["type"], s.ack.EventID)
	}
	if f.StreamID != s.ack.StreamID || f.UserID != s.ev.UserID || f.TS != event.FormatTime(s.ev.CreatedAt) {
		t.Fatalf("broadcast %s: want stream_id %s, user %s, ts %s", f.Raw, s.ack.StreamID, s.ev.UserID, event.FormatTime(s.ev.CreatedAt))
	}
	var got map[string]any
	_ = json.Unmarshal([]byte(f.Raw), &got)
	for k, v := range payload(s.msg) {
		if !cmp.Equal(got[k], v) {
			t.Fatalf("broadcast carries %s = %v, the frame sent %v (%s)", k, got[k], v, f.Raw)
		}
	}
	if _, ok := s.msg["duration_s"]; ok && f.Until != event.FormatTime(s.ev.Until) {
		t.Fatalf("broadcast until %q, want %s", f.Until, event.FormatTime(s.ev.Until))
	}
}

func checkPlayback(state string, pos int64) func(t *testing.T, x *conformance, s *sent) {
	return func(t *testing.T, _ *conformance, s *sent) {
		p := s.welcome.Playback
		if p.State != state || p.PositionMS != pos || p.UpdatedAt == nil || *p.UpdatedAt != event.FormatTime(s.ev.CreatedAt) {
			t.Fatalf("welcome playback %+v, want %s at %d updated %s", p, state, pos, event.FormatTime(s.ev.CreatedAt))
		}
	}
}

func checkLikes(t *testing.T, _ *conformance, s *sent) {
	if s.welcome.Likes != 1 || s.seen == nil || s.seen.Likes == nil || *s.seen.Likes != 1 {
		t.Fatalf("welcome likes %d after the party's one like (broadcast %+v), want 1", s.welcome.Likes, s.seen)
	}
}

// checkWelcomeHistory: a chat is in a new viewer's history (shown), a
// deleted chat is not.
func checkWelcomeHistory(shown bool) func(t *testing.T, x *conformance, s *sent) {
	return func(t *testing.T, x *conformance, s *sent) {
		chat := chatOf(s)
		if got := historyHas(s.welcome.History, chat); got != shown {
			t.Fatalf("chat %s in the welcome's history: %v, want %v (%+v)", chat, got, shown, s.welcome.History)
		}
	}
}

// chatOf is the chat a case's history shows: its own, or the one a delete hides.
func chatOf(s *sent) string {
	if s.ev.Type == event.Delete {
		return s.ev.TargetEvent.String()
	}
	return s.ack.EventID
}

func historyHas(history []frame, eventID string) bool {
	return slices.ContainsFunc(history, func(f frame) bool { return f.EventID == eventID })
}

// checkHistory: after the flush, the chats API and a new viewer's welcome
// on either gateway show a chat, and not a deleted one.
func checkHistory(shown bool) func(t *testing.T, x *conformance, s *sent) {
	return func(t *testing.T, x *conformance, s *sent) {
		chat := chatOf(s)
		for _, gw := range []string{x.gw1, x.gw2} {
			code, page := getChats(t, gw, x.main.id, "")
			if code != http.StatusOK || historyHas(page.Chats, chat) != shown {
				t.Fatalf("GET chats on %s: %d, chat %s shown %v, want %v", gw, code, chat, !shown, shown)
			}
		}
		if got := historyHas(x.main.welcome(t).History, chat); got != shown {
			t.Fatalf("chat %s in a welcome's history after the flush: %v, want %v", chat, got, shown)
		}
		if shown {
			code, page := getChats(t, x.gw1, x.main.id, "")
			i := slices.IndexFunc(page.Chats, func(f frame) bool { return f.EventID == chat })
			if f := page.Chats[i]; code != http.StatusOK || f.Text != s.msg["text"] || f.UserID != s.ev.UserID || f.StreamID != s.ack.StreamID {
				t.Fatalf("history's chat %s, want the text, user and stream id sent", f.Raw)
			}
		}
	}
}

// moderationState is GET …/moderation as the host sees it.
func moderationState(t *testing.T, x *conformance) (muted map[string]string, moderators, banned []string) {
	t.Helper()
	status, st := api(t, x.gw1, http.MethodGet, "/api/parties/"+x.main.id+"/moderation", "host", nil)
	if status != http.StatusOK {
		t.Fatalf("GET moderation: %d %v", status, st)
	}
	muted = map[string]string{}
	for _, m := range st["muted"].([]any) {
		m := m.(map[string]any)
		muted[m["user_id"].(string)] = m["until"].(string)
	}
	for _, v := range st["moderators"].([]any) {
		moderators = append(moderators, v.(string))
	}
	for _, v := range st["banned"].([]any) {
		banned = append(banned, v.(string))
	}
	return muted, moderators, banned
}

// checkRole: the target's welcome shows the role the action left it.
func checkRole(want string) func(t *testing.T, x *conformance, s *sent) {
	return func(t *testing.T, x *conformance, s *sent) {
		if got := x.main.welcomeOf(t, s.ev.Target).Role; got != want {
			t.Fatalf("%s's welcome has role %q, want %q", s.ev.Target, got, want)
		}
	}
}

func checkMuted(want bool) func(t *testing.T, x *conformance, s *sent) {
	return func(t *testing.T, x *conformance, s *sent) {
		muted, _, _ := moderationState(t, x)
		until, got := muted[s.ev.Target]
		if got != want || want && until != event.FormatTime(s.ev.Until) {
			t.Fatalf("muted %v: want %s muted %v until %s", muted, s.ev.Target, want, event.FormatTime(s.ev.Until))
		}
	}
}

func checkModerator(want bool) func(t *testing.T, x *conformance, s *sent) {
	return func(t *testing.T, x *conformance, s *sent) {
		if _, mods, _ := moderationState(t, x); slices.Contains(mods, s.ev.Target) != want {
			t.Fatalf("moderators %v: want %s among them %v", mods, s.ev.Target, want)
		}
	}
}

func checkClosed(reason string) func(t *testing.T, x *conformance, s *sent) {
	return func(t *testing.T, x *conformance, s *sent) {
		if code, got := closeOf(t, x.main.conns[s.ev.Target]); code != 4003 || got != reason {
			t.Fatalf("%s: close %d %q, want 4003 %s", s.ev.Target, code, got, reason)
		}
	}
}

// checkBanned: a ban closes the target's connection, lists it and refuses
// its joins; an unban lets it join.
func checkBanned(want bool) func(t *testing.T, x *conformance, s *sent) {
	return func(t *testing.T, x *conformance, s *sent) {
		if want {
			checkClosed("banned")(t, x, s)
		}
		if _, _, banned := moderationState(t, x); slices.Contains(banned, s.ev.Target) != want {
			t.Fatalf("banned %v: want %s among them %v", banned, s.ev.Target, want)
		}
		c, resp, err := tryDial(t, wsURL(x.gw2, x.main.id, url.Values{"user": {s.ev.Target}}), nil)
		if joined := err == nil; joined == want || want && (resp == nil || resp.StatusCode != http.StatusForbidden) {
			t.Fatalf("join by %s: %v (%s), want refused %v with 403", s.ev.Target, err, statusOf(resp), want)
		}
		if c != nil {
			_ = c.conn.Close()
		}
	}
}

// The event tables and how a kind's row is found there.
const (
	chatsTable   = "watch_party_chats"
	likesTable   = "watch_party_likes"
	logsTable    = "watch_party_logs"
	viewersTable = "watch_party_viewer_counts"
	countsTable  = "watch_party_event_counts"
)

// eventTables are the tables the flusher writes events to.
var eventTables = []string{chatsTable, likesTable, logsTable, viewersTable, countsTable}

// null is how system.rows shows SQL NULL.
const null = "<nil>"

// rowQuery returns the query of e's row in table, its arguments, and the
// columns the docs give that table.
func rowQuery(table string, party string, e event.Event) (string, []any) {
	switch table {
	case chatsTable:
		return `SELECT event_id, user_id, body, created_at, stream_ms || '-' || stream_seq, deleted_at, deleted_by
			FROM watch_party_chats WHERE party_id = $1 AND event_id = $2`, []any{party, e.ID}
	case likesTable:
		return `SELECT event_id, user_id, created_at FROM watch_party_likes WHERE party_id = $1 AND event_id = $2`,
			[]any{party, e.ID}
	case logsTable:
		return `SELECT event_id, user_id, action, position_ms, target_user_id, target_event_id, until, created_at
			FROM watch_party_logs WHERE party_id = $1 AND event_id = $2`, []any{party, e.ID}
	case viewersTable:
		return `SELECT sampled_at, viewers FROM watch_party_viewer_counts WHERE party_id = $1 AND sampled_at = $2`,
			[]any{party, e.CreatedAt}
	case countsTable:
		return `SELECT type, value, second, count FROM watch_party_event_counts
			WHERE party_id = $1 AND type = $2 AND value = $3 AND second = $4`,
			[]any{party, string(e.Type), e.Text, e.CreatedAt.Truncate(time.Second)}
	}
	panic("unknown table " + table)
}

func chatRow(s *sent) []string {
	e := s.ev
	return []string{e.ID.String(), e.UserID, s.msg["text"].(string), event.FormatTime(e.CreatedAt), s.ack.StreamID, null, null}
}

func likeRow(s *sent) []string {
	return []string{s.ev.ID.String(), s.ev.UserID, event.FormatTime(s.ev.CreatedAt)}
}

// countRow is the count of the event's second and value: the test sends
// one event of each counted kind per party.
func countRow(s *sent) []string {
	return []string{string(s.ev.Type), s.ev.Text, event.FormatTime(s.ev.CreatedAt.Truncate(time.Second)), "1"}
}

func viewersRow(s *sent) []string {
	return []string{event.FormatTime(s.ev.CreatedAt), fmt.Sprint(*s.ev.Viewers)}
}

// logRow is a log row: position for playback, target and until for
// moderation, NULL where the kind has none.
func logRow(s *sent) []string {
	e := s.ev
	row := []string{e.ID.String(), e.UserID, string(e.Type), null, null, null, null, event.FormatTime(e.CreatedAt)}
	if pos, ok := s.msg["position_ms"]; ok {
		row[3] = fmt.Sprint(pos)
	}
	if target, ok := s.msg["target_user_id"]; ok {
		row[4] = target.(string)
	}
	if target, ok := s.msg["target_event_id"]; ok {
		row[5] = target.(string)
	}
	if _, ok := s.msg["duration_s"]; ok {
		row[6] = event.FormatTime(e.Until)
	}
	return row
}

// checkRow waits for the kind's one row in table and compares it; an
// event id is in no other event table.
func checkRow(table string, want func(s *sent) []string) func(t *testing.T, x *conformance, s *sent) {
	return func(t *testing.T, x *conformance, s *sent) {
		q, args := rowQuery(table, x.main.id, s.ev)
		var got [][]string
		eventually(t, 10*time.Second, "the row in "+table, func() bool {
			got = x.s.rows(q, args...)
			return len(got) > 0
		})
		if diff := cmp.Diff([][]string{want(s)}, got); diff != "" {
			t.Fatalf("%s row (-want +got):\n%s", table, diff)
		}
		if table == viewersTable || table == countsTable {
			return
		}
		n := x.s.count(`SELECT (SELECT count(*) FROM watch_party_chats WHERE event_id = $1)
			+ (SELECT count(*) FROM watch_party_likes WHERE event_id = $1) + (SELECT count(*) FROM watch_party_logs WHERE event_id = $1)`, s.ev.ID)
		if n != 1 {
			t.Fatalf("event %s has %d rows across the event tables, want 1", s.ev.ID, n)
		}
	}
}

// checkDeleteRows: the delete's log row, and the chat it hides kept and
// marked.
func checkDeleteRows(t *testing.T, x *conformance, s *sent) {
	checkRow(logsTable, logRow)(t, x, s)
	got := x.s.rows(`SELECT deleted_at IS NOT NULL, deleted_by FROM watch_party_chats WHERE party_id = $1 AND event_id = $2`,
		x.main.id, s.ev.TargetEvent)
	if diff := cmp.Diff([][]string{{"true", s.ev.UserID}}, got); diff != "" {
		t.Fatalf("the deleted chat's row (-want +got):\n%s", diff)
	}
}

// checkDeadLettered: the kind's event of the refused party is in wp:dlq
// and has no row.
func checkDeadLettered(table string) func(t *testing.T, x *conformance, s *sent) {
	return func(t *testing.T, x *conformance, s *sent) {
		eventually(t, 15*time.Second, "the event in wp:dlq", func() bool { return x.inDLQ(t, s.ev) })
		q, args := rowQuery(table, x.dead.id, s.ev)
		if got := x.s.rows(q, args...); len(got) != 0 {
			t.Fatalf("a dead-lettered event has a row in %s: %v", table, got)
		}
	}
}

func (x *conformance) inDLQ(t *testing.T, e event.Event) bool {
	t.Helper()
	list, err := dlq.List(context.Background(), x.s.rdb, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range list {
		for _, d := range it.Batch.Events {
			if it.Batch.PartyID == x.dead.id && d.ID == e.ID && d.Type == e.Type {
				return true
			}
		}
	}
	return false
}

// replay lets PostgreSQL take the refused party's rows and replays the
// dead-letter list twice.
func (x *conformance) replay(t *testing.T) {
	for _, table := range eventTables {
		x.s.exec(t, `ALTER TABLE `+table+` DROP CONSTRAINT conformance_dead`)
	}
	for range 2 {
		code, out := flusherCommand(t, x.s, "replay-dlq")
		if code != 0 || !strings.Contains(out, " failed=0 ") {
			t.Fatalf("replay-dlq: exit %d, want 0 and failed=0\n%s", code, out)
		}
	}
}

// checkReplayedOnce: after two replays the event has its one row and has
// left wp:dlq.
func checkReplayedOnce(postgres stage) func(t *testing.T, x *conformance, s *sent) {
	return func(t *testing.T, x *conformance, s *sent) {
		if x.inDLQ(t, s.ev) {
			t.Fatalf("event %s still in wp:dlq after the replay", s.ev.ID)
		}
		main := *x
		main.main = x.dead
		postgres.check(t, &main, s)
	}
}

// erase erases the sender of every case with an erasure stage in the main
// party, all at once: `flusher erase-user` per user, run side by side.
func (x *conformance) erase(t *testing.T, cases []conformanceCase) {
	t.Helper()
	procs := map[string]*testenv.Proc{}
	for _, c := range cases {
		if c.erasure.check == nil || procs[c.sender] != nil {
			continue
		}
		procs[c.sender] = testenv.StartProc(t, "flusher", x.s.env(),
			"erase-user", "--user", c.sender, "--party", x.main.id, "--in-flight-wait", "200ms")
	}
	for user, p := range procs {
		if code, err := p.Wait(60 * time.Second); err != nil || code != 0 {
			t.Errorf("erase-user %s: exit %d, %v\n%s", user, code, err, p.Output())
		}
	}
}

// checkErased: the sender's row of the kind and its stream entry are gone,
// and then what more holds.
func checkErased(table string, more ...func(t *testing.T, x *conformance, s *sent)) func(t *testing.T, x *conformance, s *sent) {
	return func(t *testing.T, x *conformance, s *sent) {
		q, args := rowQuery(table, x.main.id, s.ev)
		if got := x.s.rows(q, args...); len(got) != 0 {
			t.Fatalf("%s row after the erasure: %v", table, got)
		}
		if _, ok := x.main.entry(t, s.ev.StreamID); ok {
			t.Fatalf("stream entry %s of %s after the erasure", s.ev.StreamID, s.ev.UserID)
		}
		for _, check := range more {
			check(t, x, s)
		}
	}
}

// checkEntryErasedCountKept: the sender's stream entry is gone, and its
// count stays, as it names nobody.
func checkEntryErasedCountKept(t *testing.T, x *conformance, s *sent) {
	if _, ok := x.main.entry(t, s.ev.StreamID); ok {
		t.Fatalf("stream entry %s of %s after the erasure", s.ev.StreamID, s.ev.UserID)
	}
	checkRow(countsTable, countRow)(t, x, s)
}

// checkChatForgotten: once erase-user returns the chats API serves the
// chat no more, and the gateways drop it from new viewers' history when
// they hear of the erasure.
func checkChatForgotten(t *testing.T, x *conformance, s *sent) {
	for _, gw := range []string{x.gw1, x.gw2} {
		if code, page := getChats(t, gw, x.main.id, ""); code != http.StatusOK || historyHas(page.Chats, s.ack.EventID) {
			t.Fatalf("GET chats on %s after the erasure: %d, the erased chat still served", gw, code)
		}
	}
	eventually(t, 10*time.Second, "the erased chat out of a new viewer's history", func() bool {
		return !historyHas(x.main.welcome(t).History, s.ack.EventID)
	})
}

// checkLikeUncounted: the erased like no longer counts, in the party's
// like total and in the welcome of a gateway that never followed the
// party, and in the welcome of the gateways that follow it.
func checkLikeUncounted(t *testing.T, x *conformance, s *sent) {
	if status, p := api(t, x.gw1, http.MethodGet, "/api/parties/"+x.main.id, "reader", nil); status != http.StatusOK || p["likes"] != 0.0 {
		t.Fatalf("GET party after the only liker's erasure: %d, likes %v, want 0", status, p["likes"])
	}
	fresh, _ := x.s.gateway()
	welcomeLikes := func(gw string) int64 {
		c := x.connect(t, gw, x.main.id, "probe-"+x.nextID())
		defer c.conn.Close()
		var w welcomeFrame
		if err := json.Unmarshal([]byte(c.nextOf("welcome", 10*time.Second).Raw), &w); err != nil {
			t.Fatal(err)
		}
		return w.Likes
	}
	if likes := welcomeLikes(fresh); likes != 0 {
		t.Fatalf("welcome likes %d on a new gateway after the only liker's erasure, want 0", likes)
	}
	// The gateways following the party learned the new total from the
	// erasure's announcement.
	if following := []int64{welcomeLikes(x.gw1), welcomeLikes(x.gw2)}; !slices.Equal(following, []int64{0, 0}) {
		t.Fatalf("after the only liker's erasure the gateways following the party welcome viewers with likes %v, "+
			"want 0", following)
	}
}

// checkUnattributed: the sender's moderation action keeps its row, its
// user_id emptied (a delete also its chat's deleted_by), and its stream
// entry stays until flushed entries leave the stream.
func checkUnattributed(t *testing.T, x *conformance, s *sent) {
	got := x.s.rows(`SELECT user_id, action FROM watch_party_logs WHERE party_id = $1 AND event_id = $2`, x.main.id, s.ev.ID)
	if diff := cmp.Diff([][]string{{"", string(s.ev.Type)}}, got); diff != "" {
		t.Fatalf("log row after the erasure (-want +got):\n%s", diff)
	}
	if s.ev.Type == event.Delete {
		got := x.s.rows(`SELECT deleted_at IS NOT NULL, deleted_by FROM watch_party_chats WHERE party_id = $1 AND event_id = $2`,
			x.main.id, s.ev.TargetEvent)
		if diff := cmp.Diff([][]string{{"true", ""}}, got); diff != "" {
			t.Fatalf("the deleted chat after its deleter's erasure (-want +got):\n%s", diff)
		}
	}
	if _, ok := x.main.entry(t, s.ev.StreamID); !ok {
		t.Fatalf("stream entry %s left the stream with the erasure; the docs keep moderation actions", s.ev.StreamID)
	}
}

// exec runs a statement on the test's database.
func (s *system) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := s.db.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
