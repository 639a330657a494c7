package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/watchparty/watchparty/internal/stream"
)

// TestSocketIO drives the stock socket.io-client (Node, e2e/socketio)
// against two gateways behind a balancer and a flusher, beside a /ws
// viewer on the second gateway.
func TestSocketIO(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Node.js client; skipped with -short")
	}
	s := sharedSystem(t)
	heartbeat := []string{"WATCH_PARTY_SOCKETIO_PING_INTERVAL=1s", "WATCH_PARTY_SOCKETIO_PING_TIMEOUT=2s"}
	gwA, procA := s.gateway(heartbeat...)
	gwB, _ := s.gateway(heartbeat...)
	s.flusher("WATCH_PARTY_FLUSH_INTERVAL=200ms")
	lb := newBalancer(t, gwA, gwB) // prefers gwA while it answers
	party := s.party("ONGOING", "host")
	agent := startSIOAgent(t)

	agent.connect("host", lb.addr(), party, map[string]string{"user": "host"})
	agent.connect("carol", lb.addr(), party, map[string]string{"user": "carol"})
	for _, name := range []string{"host", "carol"} {
		agent.await(t, name, "connect", func(r sioReport) bool { return r.Ev == "connect" && !r.Recovered })
		w := agent.await(t, name, "welcome", func(r sioReport) bool { return r.Ev == "event" && r.Event == "welcome" })
		var welcome frame
		_ = json.Unmarshal(w.Args[0], &welcome)
		if len(w.Args) != 2 || string(w.Args[1]) != fmt.Sprintf("%q", welcome.LastID) {
			t.Fatalf("%s: welcome %s: want its last_id as the offset argument", name, w.Args)
		}
	}
	dave := dial(t, gwB, party, "dave")
	dave.nextOf("welcome", 5*time.Second)

	t.Run("one audience in one order", func(t *testing.T) {
		dave.t = t // its helpers fail the step running
		for i := range 5 {
			agent.emit("carol", "chat", map[string]string{"id": fmt.Sprintf("c%d", i), "text": fmt.Sprintf("carol %d", i)}, "")
			dave.send(map[string]string{"type": "chat", "id": fmt.Sprintf("d%d", i), "text": fmt.Sprintf("dave %d", i)})
		}
		var viaWS []frame
		for len(viaWS) < 10 {
			viaWS = append(viaWS, dave.nextOf("chat", 10*time.Second))
		}
		eventually(t, 10*time.Second, "carol receives 10 chats", func() bool { return len(agent.chats("carol")) >= 10 })
		viaSIO := agent.chats("carol")
		for i, c := range viaSIO[:10] {
			w := viaWS[i]
			if c.StreamID != w.StreamID || c.Offset != c.StreamID {
				t.Fatalf("chat %d: socket.io %s (offset %s), /ws %s: not one order", i, c.StreamID, c.Offset, w.StreamID)
			}
			var sioJSON, wsJSON map[string]any
			_ = json.Unmarshal([]byte(c.Raw), &sioJSON)
			_ = json.Unmarshal([]byte(w.Raw), &wsJSON)
			if diff := cmp.Diff(wsJSON, sioJSON); diff != "" {
				t.Fatalf("chat %d: the socket.io event is not the /ws frame (-ws +socket.io):\n%s", i, diff)
			}
		}
		if senders := countBy(viaWS, func(f frame) string { return f.UserID }); senders["carol"] != 5 || senders["dave"] != 5 {
			t.Fatalf("chats by sender: %v", senders)
		}
	})

	t.Run("acks and idempotent resends", func(t *testing.T) {
		dave.t = t // its helpers fail the step running
		agent.emit("carol", "chat", map[string]string{"id": "r1", "text": "only once"}, "r1a")
		first := agent.ack(t, "carol", "r1a")
		agent.emit("carol", "chat", map[string]string{"id": "r1", "text": "only once"}, "r1b")
		again := agent.ack(t, "carol", "r1b")
		if first.Error != nil || first.EventID == "" || first.StreamID == "" || first != again {
			t.Fatalf("acks of a chat and its resend: %+v, %+v; want the same event_id and stream_id", first, again)
		}
		dave.send(map[string]string{"type": "chat", "id": "fence1", "text": "fence"})
		var texts []string
		for f := dave.nextOf("chat", 5*time.Second); f.Text != "fence"; f = dave.nextOf("chat", 5*time.Second) {
			texts = append(texts, f.Text)
		}
		if !slices.Equal(texts, []string{"only once"}) {
			t.Fatalf("/ws viewer got %q before the fence; want the chat once", texts)
		}
		eventually(t, 20*time.Second, "the chat flushed once", func() bool {
			return s.count(`SELECT count(*) FROM watch_party_chats WHERE event_id = $1`, first.EventID) == 1
		})
	})

	t.Run("host-only playback", func(t *testing.T) {
		dave.t = t // its helpers fail the step running
		agent.emit("carol", "play", map[string]int{"position_ms": 1000}, "p1")
		if ack := agent.ack(t, "carol", "p1"); ack.Error == nil || ack.Error.Code != "forbidden" {
			t.Fatalf("play by a viewer: ack %+v; want forbidden", ack)
		}
		agent.emit("host", "play", map[string]int{"position_ms": 2000}, "p2")
		ack := agent.ack(t, "host", "p2")
		if ack.Error != nil {
			t.Fatalf("play by the host: %+v", ack.Error)
		}
		if f := dave.nextOf("play", 5*time.Second); f.EventID != ack.EventID || f.PositionMS == nil || *f.PositionMS != 2000 {
			t.Fatalf("/ws viewer got %s; want the host's play %s", f.Raw, ack.EventID)
		}
	})

	t.Run("a client written from the docs", func(t *testing.T) {
		dave.t = t // its helpers fail the step running
		cmd := exec.Command("node", "docclient.js", "http://"+gwB, party, "doc-reader")
		cmd.Dir = "socketio"
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "ok" {
			t.Fatalf("docclient.js: %v\n%s", err, out)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		dave.t = t // its helpers fail the step running
		testSocketIOBadInput(t, s, gwA, party)
	})

	t.Run("ban closes a socket.io viewer", func(t *testing.T) {
		dave.t = t // its helpers fail the step running
		agent.connect("frank", lb.addr(), party, map[string]string{"user": "frank"})
		agent.await(t, "frank", "welcome", func(r sioReport) bool { return r.Ev == "event" && r.Event == "welcome" })
		agent.emit("host", "ban", map[string]string{"target_user_id": "frank"}, "b1")
		if ack := agent.ack(t, "host", "b1"); ack.Error != nil {
			t.Fatalf("ban: %+v", ack.Error)
		}
		agent.await(t, "frank", "the ban event", func(r sioReport) bool { return r.Ev == "event" && r.Event == "ban" })
		closing := agent.await(t, "frank", "closing 4003", func(r sioReport) bool { return r.Ev == "event" && r.Event == "closing" })
		if !strings.Contains(string(closing.Args[0]), `"code":4003`) || !strings.Contains(string(closing.Args[0]), `"reason":"banned"`) {
			t.Fatalf("closing event %s; want 4003 banned", closing.Args[0])
		}
		agent.await(t, "frank", "io server disconnect", func(r sioReport) bool {
			return r.Ev == "disconnect" && r.Reason == "io server disconnect"
		})
		agent.connect("frank2", lb.addr(), party, map[string]string{"user": "frank"})
		refused := agent.await(t, "frank2", "connect_error", func(r sioReport) bool { return r.Ev == "connect_error" })
		if refused.Message != "you are banned from this party" || !strings.Contains(string(refused.Data), `"code":"forbidden"`) {
			t.Fatalf("banned user's CONNECT: %q %s; want /ws's 403 forbidden message", refused.Message, refused.Data)
		}
	})

	t.Run("recovers across a gateway SIGKILL", func(t *testing.T) {
		dave.t = t // its helpers fail the step running
		before := len(agent.chats("carol"))
		lb.hold() // the reconnect waits until the chats below are stored
		procA.Kill()
		agent.await(t, "carol", "disconnect", func(r sioReport) bool { return r.Ev == "disconnect" })
		var sent []string
		for i := range 5 {
			id := fmt.Sprintf("k%d", i)
			dave.send(map[string]string{"type": "chat", "id": id, "text": "while carol was away " + id})
			sent = append(sent, "while carol was away "+id)
		}
		for range 5 {
			dave.nextOf("ack", 5*time.Second)
		}
		lb.resume()
		agent.await(t, "carol", "a recovered connect", func(r sioReport) bool { return r.Ev == "connect" && r.Recovered })
		eventually(t, 10*time.Second, "carol receives the missed chats", func() bool {
			return len(agent.chats("carol")) >= before+5
		})
		all := agent.chats("carol")
		var got []string
		for _, c := range all[before:] {
			got = append(got, c.Text)
		}
		if diff := cmp.Diff(sent, got); diff != "" {
			t.Fatalf("chats after the kill (-sent +received):\n%s", diff)
		}
		for i := 1; i < len(all); i++ {
			if !stream.After(all[i].StreamID, all[i-1].StreamID) {
				t.Fatalf("chat %d (%s) does not follow %s: a duplicate or a reordering", i, all[i].StreamID, all[i-1].StreamID)
			}
		}
	})
}

// TestSocketIOShutdownClosesUnjoined checks that a draining gateway closes
// a Socket.IO connection that has not sent its CONNECT yet, as it closes
// joined viewers, instead of waiting for it.
func TestSocketIOShutdownClosesUnjoined(t *testing.T) {
	if testing.Short() {
		t.Skip("drains a gateway; skipped with -short")
	}
	s := sharedSystem(t)
	gw, proc := s.gateway() // Socket.IO's default heartbeat: 25 s, longer than this test
	u := url.URL{Scheme: "ws", Host: gw, Path: "/socket.io/", RawQuery: "EIO=4&transport=websocket"}
	conn, resp, err := websocket.DefaultDialer.Dial(u.String(), nil)
	if err != nil {
		t.Fatalf("dial: %v (%s)", err, statusOf(resp))
	}
	defer conn.Close()
	c := &engineConn{t: t, conn: conn}
	if open := c.next(); !strings.HasPrefix(open, `0{"sid":`) {
		t.Fatalf("open packet %s", open)
	}
	proc.Signal(syscall.SIGTERM)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	if !asCloseError(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("after SIGTERM: %v; want a close 1001", err)
	}
	if code, err := proc.Wait(10 * time.Second); err != nil || code != 0 {
		t.Fatalf("gateway exit %d, %v", code, err)
	}
}

func countBy[T any](xs []T, key func(T) string) map[string]int {
	out := map[string]int{}
	for _, x := range xs {
		out[key(x)]++
	}
	return out
}

// testSocketIOBadInput sends what a broken client might over a raw
// Engine.IO WebSocket: each gets its error, and nothing is stored.
func testSocketIOBadInput(t *testing.T, s *system, gw, party string) {
	nsp := "/parties/" + party

	// Polling and other protocol versions are refused before any upgrade.
	for _, q := range []string{"EIO=4&transport=polling", "EIO=3&transport=websocket"} {
		resp, err := http.Get("http://" + gw + "/socket.io/?" + q)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"message"`) {
			t.Fatalf("GET /socket.io/?%s: %d %s; want 400 with a message", q, resp.StatusCode, body)
		}
	}

	// A bad token gets the message /ws gives it.
	resp, err := http.Get("http://" + gw + "/ws/parties/" + party + "?token=bad")
	if err != nil {
		t.Fatal(err)
	}
	var wsRefusal struct {
		Error struct{ Code, Message string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&wsRefusal)
	resp.Body.Close()
	c := dialEngine(t, gw)
	c.write(`40` + nsp + `,{"token":"bad"}`)
	want := fmt.Sprintf(`44%s,{"message":%q,"data":{"code":"unauthorized","status":401}}`, nsp, wsRefusal.Error.Message)
	if got := c.next(); got != want {
		t.Fatalf("bad token:\n got %s\nwant %s", got, want)
	}
	c.write(`40/elsewhere,{"user":"eve"}`)
	if got := c.next(); !strings.HasPrefix(got, `44/elsewhere,{"message":"Invalid namespace`) || !strings.Contains(got, `"not_found"`) {
		t.Fatalf("wrong namespace: %s", got)
	}
	c.write(`40` + nsp + `,{"user":"eve"}`)
	if got := c.next(); !strings.HasPrefix(got, `40`+nsp+`,{"sid":`) {
		t.Fatalf("CONNECT: %s", got)
	}
	c.nextEvent("welcome")

	invalid := func(what, packet, wantMsg string) {
		t.Helper()
		c.write(packet)
		got := c.next()
		for strings.HasPrefix(got, `42`+nsp+`,["viewers"`) || strings.HasPrefix(got, `42`+nsp+`,["chat"`) {
			got = c.next()
		}
		if !strings.HasPrefix(got, `43`+nsp+`,9[{"error":{"code":"invalid_message"`) && !strings.HasPrefix(got, `42`+nsp+`,["error",{"type":"error","code":"invalid_message"`) {
			t.Fatalf("%s: got %s; want invalid_message", what, got)
		}
		if !strings.Contains(got, wantMsg) {
			t.Fatalf("%s: got %s; want a message with %q", what, got, wantMsg)
		}
	}
	invalid("unknown event", `42`+nsp+`,9["dance",{"text":"x"}]`, "type")
	invalid("malformed packet", `42`+nsp+`,["chat",{"text":`, "malformed Socket.IO packet")
	invalid("binary attachment", `451-`+nsp+`,9["chat",{"_placeholder":true,"num":0}]`, "binary attachments are not supported")
	c.writeBinary([]byte{1, 2, 3}) // the attachment itself is ignored
	invalid("type in the payload", `42`+nsp+`,9["chat",{"type":"like","text":"x"}]`, "type comes from the event name")
	invalid("engine packet of an upgrade", `6`, "unexpected Engine.IO packet")
	invalid("pong without a ping", `3`, "Engine.IO pong without a ping")
	invalid("event on another namespace", `42/elsewhere,9["chat",{"text":"x"}]`, "not connected to namespace")
	// A second party on the same connection (socket.io-client multiplexes
	// by default) is refused on its own namespace, not left waiting.
	other := "/parties/" + uuid.NewString()
	c.write(`40` + other + `,{"user":"eve"}`)
	if got := c.next(); !strings.HasPrefix(got, `44`+other+`,{"message":"this connection already carries`) ||
		!strings.Contains(got, `"conflict"`) {
		t.Fatalf("second party on one connection: %s", got)
	}

	// The connection still works: a chat is acked.
	c.write(`42` + nsp + `,7["chat",{"id":"fence","text":"eve's only chat"}]`)
	got := c.next()
	for !strings.HasPrefix(got, `43`+nsp+`,7[`) {
		got = c.next()
	}
	if !strings.Contains(got, `"event_id"`) {
		t.Fatalf("chat after bad input: %s", got)
	}

	// An oversized frame closes the connection with 1009.
	c.write(`42` + nsp + `,["chat",{"text":"` + strings.Repeat("x", 5000) + `"}]`)
	if code := c.closeCode(); code != websocket.CloseMessageTooBig {
		t.Fatalf("oversized frame: close %d; want 1009", code)
	}

	// A client that answers no ping is closed after pingInterval (1s)
	// and pingTimeout (2s).
	quiet := dialEngine(t, gw)
	quiet.write(`40` + nsp + `,{"user":"quiet"}`)
	_ = quiet.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := quiet.conn.ReadMessage() // pings go unanswered
		var ce *websocket.CloseError
		if asCloseError(err, &ce) {
			if ce.Code != websocket.CloseGoingAway || ce.Text != "ping timeout" {
				t.Fatalf("unanswered pings: close %d %q; want 1001 ping timeout", ce.Code, ce.Text)
			}
			break
		}
		if err != nil {
			t.Fatalf("unanswered pings: %v; want a close after the ping timeout", err)
		}
	}

	eventually(t, 20*time.Second, "eve's fence chat flushed", func() bool {
		return s.count(`SELECT count(*) FROM watch_party_chats WHERE user_id = 'eve' AND body = 'eve''s only chat'`) == 1
	})
	if n := s.count(`SELECT count(*) FROM watch_party_chats WHERE user_id = 'eve'`); n != 1 {
		t.Fatalf("eve has %d chats stored; want only the fence", n)
	}
}

// engineConn is a raw Engine.IO v4 WebSocket to the gateway.
type engineConn struct {
	t    testing.TB
	conn *websocket.Conn
}

func dialEngine(t testing.TB, gw string) *engineConn {
	t.Helper()
	u := url.URL{Scheme: "ws", Host: gw, Path: "/socket.io/", RawQuery: "EIO=4&transport=websocket"}
	conn, resp, err := websocket.DefaultDialer.Dial(u.String(), nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%s)", u.String(), err, statusOf(resp))
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := &engineConn{t: t, conn: conn}
	if open := c.next(); !strings.HasPrefix(open, `0{"sid":`) || !strings.Contains(open, `"pingInterval":1000`) {
		t.Fatalf("open packet %s; want the sid and the configured pingInterval", open)
	}
	return c
}

func (c *engineConn) write(s string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *engineConn) writeBinary(b []byte) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next packet, answering pings on the way.
func (c *engineConn) next() string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second)) // pings do not extend it
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if string(b) == "2" {
			c.write("3")
			continue
		}
		return string(b)
	}
}

// nextEvent returns the next event named name.
func (c *engineConn) nextEvent(name string) string {
	c.t.Helper()
	for {
		if p := c.next(); strings.Contains(p, `,["`+name+`",`) {
			return p
		}
	}
}

func (c *engineConn) closeCode() int {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.conn.ReadMessage()
		var ce *websocket.CloseError
		if asCloseError(err, &ce) {
			return ce.Code
		}
		if err != nil {
			c.t.Fatalf("read: %v; want a close frame", err)
		}
	}
}
