package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// frame is one server frame, decoded loosely.
type frame struct {
	Type       string  `json:"type"`
	ID         string  `json:"id"`
	EventID    string  `json:"event_id"`
	StreamID   string  `json:"stream_id"`
	UserID     string  `json:"user_id"`
	Text       string  `json:"text"`
	Likes      *int64  `json:"likes"`
	PositionMS *int64  `json:"position_ms"`
	TS         string  `json:"ts"`
	Code       string  `json:"code"`
	LastID     string  `json:"last_id"`
	Viewers    int     `json:"viewers"`
	Resumed    *bool   `json:"resumed"`
	History    []frame `json:"history"`
	// Moderation frames.
	TargetUserID  string `json:"target_user_id"`
	TargetEventID string `json:"target_event_id"`
	Until         string `json:"until"`
	Raw           string `json:"-"`
}

// client is a viewer connected over a real WebSocket; a goroutine reads
// every frame into a channel until the connection closes.
type client struct {
	t      testing.TB
	user   string
	conn   *websocket.Conn
	frames chan frame
	closed chan struct{}

	mu       sync.Mutex
	closeErr error
}

func wsURL(addr, party string, query url.Values) string {
	return "ws://" + addr + "/ws/parties/" + party + "?" + query.Encode()
}

// dial connects user to party on the gateway at addr, with dev auth.
func dial(t testing.TB, addr, party, user string) *client {
	t.Helper()
	c, resp, err := tryDial(t, wsURL(addr, party, url.Values{"user": {user}}), nil)
	if err != nil {
		t.Fatalf("dial %s as %s: %v (%s)", party, user, err, statusOf(resp))
	}
	c.user = user
	return c
}

func statusOf(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	return resp.Status
}

func tryDial(t testing.TB, u string, header http.Header) (*client, *http.Response, error) {
	conn, resp, err := websocket.DefaultDialer.Dial(u, header)
	if err != nil {
		return nil, resp, err
	}
	c := &client{t: t, conn: conn, frames: make(chan frame, 100000), closed: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { _ = c.conn.Close() })
	return c, resp, nil
}

func (c *client) read() {
	defer close(c.closed)
	defer close(c.frames)
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.closeErr = err
			c.mu.Unlock()
			return
		}
		var f frame
		if err := json.Unmarshal(b, &f); err != nil {
			f = frame{Type: "undecodable"}
		}
		f.Raw = string(b)
		c.frames <- f
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("%s: write: %v", c.user, err)
	}
}

// next returns the next frame, failing the test after timeout.
func (c *client) next(timeout time.Duration) frame {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.t.Fatalf("%s: connection closed while waiting for a frame: %v", c.user, c.err())
		}
		return f
	case <-time.After(timeout):
		c.t.Fatalf("%s: no frame within %v", c.user, timeout)
	}
	return frame{}
}

// nextOf returns the next frame of type typ, skipping others.
func (c *client) nextOf(typ string, timeout time.Duration) frame {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f := c.next(time.Until(deadline))
		if f.Type == typ {
			return f
		}
	}
}

// closeCode waits for the server to close the connection and returns the
// close code.
func (c *client) closeCode(timeout time.Duration) int {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case _, ok := <-c.frames:
			if ok {
				continue
			}
			var ce *websocket.CloseError
			if err := c.err(); err != nil && asCloseError(err, &ce) {
				return ce.Code
			}
			c.t.Fatalf("%s: closed without a close frame: %v", c.user, c.err())
		case <-deadline:
			c.t.Fatalf("%s: not closed within %v", c.user, timeout)
		}
	}
}

func asCloseError(err error, target **websocket.CloseError) bool {
	ce, ok := err.(*websocket.CloseError)
	if ok {
		*target = ce
	}
	return ok
}

func (c *client) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

func (c *client) String() string { return fmt.Sprintf("client(%s)", c.user) }
