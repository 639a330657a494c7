package checks

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// docClient is a client written from docs/api.md and docs/protocol.md
// alone: the frames, ids, resends and since as those pages describe them.
type docClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialDoc(t *testing.T, gw, party, user, since string) (*docClient, map[string]any) {
	t.Helper()
	u := "ws://" + gw + "/ws/parties/" + party + "?user=" + user
	if since != "" {
		u += "&since=" + since
	}
	c, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	dc := &docClient{t: t, conn: c}
	return dc, dc.next("welcome")
}

// next returns the next frame of one of types, skipping others (viewer
// counts, the sender's own broadcasts); an unexpected error frame fails.
func (c *docClient) next(types ...string) map[string]any {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var f map[string]any
		if err := c.conn.ReadJSON(&f); err != nil {
			c.t.Fatalf("waiting for %v: %v", types, err)
		}
		for _, t := range types {
			if f["type"] == t {
				return f
			}
		}
		if f["type"] == "error" {
			c.t.Fatalf("got %v while waiting for %v", f, types)
		}
	}
}

func (c *docClient) send(f map[string]any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(f); err != nil {
		c.t.Fatal(err)
	}
}

func apiCall(t *testing.T, method, url string, body any) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// TestClientFromTheDocs follows the client checklist of docs/protocol.md
// against the real binaries: create a party through the REST API and wait
// for ONGOING, connect, send with ids, get acks and broadcasts, miss events
// while away and resume with since (in order, once), resend an id (same
// event, no second broadcast), and get a refusal with the frame's id.
func TestClientFromTheDocs(t *testing.T) {
	s := startStack(t, "WATCH_PARTY_SCHEDULER_INTERVAL=200ms")
	api := "http://" + s.gateway + "/api/parties"
	now := time.Now().UTC()
	status, p := apiCall(t, "POST", api+"?user=alice", map[string]any{"title": "Docs", "video_url": "https://example.com/v.mp4",
		"start_time": now.Format(time.RFC3339), "end_time": now.Add(time.Hour).Format(time.RFC3339)})
	if status != http.StatusCreated || p["host_user_id"] != "alice" || p["control"] != "host" {
		t.Fatalf("create: %d %v", status, p)
	}
	party := p["id"].(string)
	deadline := time.Now().Add(15 * time.Second)
	for p["status"] != "ONGOING" {
		if time.Now().After(deadline) {
			t.Fatalf("party not ONGOING after 15s: %v", p)
		}
		time.Sleep(100 * time.Millisecond)
		_, p = apiCall(t, "GET", api+"/"+party+"?user=alice", nil)
	}

	alice, w := dialDoc(t, s.gateway, party, "alice", "")
	if w["party_id"] != party || w["user_id"] != "alice" || w["last_id"] == nil {
		t.Fatalf("welcome: %v", w)
	}
	bob, _ := dialDoc(t, s.gateway, party, "bob", "")

	alice.send(map[string]any{"type": "chat", "id": "a1", "text": "hello"})
	ack := alice.next("ack")
	if ack["id"] != "a1" || ack["event_id"] == nil || ack["stream_id"] == nil {
		t.Fatalf("ack: %v", ack)
	}
	got := bob.next("chat")
	if got["stream_id"] != ack["stream_id"] || got["event_id"] != ack["event_id"] || got["text"] != "hello" || got["user_id"] != "alice" {
		t.Fatalf("broadcast %v for ack %v", got, ack)
	}
	last := got["stream_id"].(string)

	// bob goes away; alice chats on; bob resumes with since.
	_ = bob.conn.Close()
	var missed []string
	for _, text := range []string{"one", "two", "three"} {
		alice.send(map[string]any{"type": "chat", "id": "a-" + text, "text": text})
		missed = append(missed, alice.next("ack")["stream_id"].(string))
	}
	bob, w = dialDoc(t, s.gateway, party, "bob", last)
	if w["resumed"] != true {
		t.Fatalf("resume welcome: %v", w)
	}
	for i, want := range missed {
		if f := bob.next("chat"); f["stream_id"] != want {
			t.Fatalf("caught-up event %d: %v, want stream_id %s", i, f, want)
		}
	}

	// A resend of a1 is the same event and is not broadcast again.
	alice.send(map[string]any{"type": "chat", "id": "a1", "text": "hello"})
	if again := alice.next("ack"); again["event_id"] != ack["event_id"] || again["stream_id"] != ack["stream_id"] {
		t.Fatalf("resend acked as %v, first ack %v", again, ack)
	}
	alice.send(map[string]any{"type": "chat", "id": "a5", "text": "after the resend"})
	if f := bob.next("chat"); f["text"] != "after the resend" {
		t.Fatalf("bob got %v after a resend; the resend must not be broadcast again", f)
	}

	// A refusal names the frame's id; nothing is stored.
	bob.send(map[string]any{"type": "chat", "id": "b1", "text": "   "})
	if e := bob.next("error"); e["id"] != "b1" || e["code"] != "invalid_message" {
		t.Fatalf("blank chat: %v", e)
	}
	bob.send(map[string]any{"type": "seek", "id": "b2", "position_ms": 1000})
	if e := bob.next("error"); e["id"] != "b2" || e["code"] != "forbidden" {
		t.Fatalf("seek by a viewer where control is host: %v", e)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		_, p = apiCall(t, "GET", api+"/"+party+"?user=bob", nil)
		if p["viewers"] == float64(2) && p["status"] == "ONGOING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("party as the API shows it, with alice and bob connected: %v", p)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
