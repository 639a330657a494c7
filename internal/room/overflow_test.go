package room

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/olahol/melody"

	"github.com/watchparty/watchparty/internal/auth"
	"github.com/watchparty/watchparty/internal/protocol"
)

// pipeListener accepts one connection: the server end of a net.Pipe, which
// is synchronous, so the session's writer blocks until the client reads.
// A test then decides exactly when the viewer's frames leave.
type pipeListener struct {
	conn chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conn:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// pipedViewer serves one melody session over a synchronous pipe and
// returns its viewer (queue limit, melody buffer sessionBuffer) and the
// client's end.
func pipedViewer(t *testing.T, limit, sessionBuffer int) (*Viewer, *websocket.Conn) {
	t.Helper()
	m := melody.New()
	m.Config.MessageBufferSize = sessionBuffer
	viewers := make(chan *Viewer, 1)
	m.HandleConnect(func(s *melody.Session) {
		v := NewViewer(s, uuid.New(), auth.Identity{UserID: "bob"}, limit, sessionBuffer, nil)
		s.Set("v", v)
		viewers <- v
	})
	m.HandleSentMessage(func(s *melody.Session, _ []byte) {
		v, _ := s.Get("v")
		v.(*Viewer).Sent()
	})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _ = m.HandleRequest(w, r) })}
	server, client := net.Pipe()
	l := &pipeListener{conn: make(chan net.Conn, 1), done: make(chan struct{})}
	l.conn <- server
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = client.Close(); _ = srv.Close(); _ = m.Close() })
	ws, _, err := websocket.NewClient(client, &url.URL{Scheme: "ws", Host: "pipe", Path: "/"}, nil, 512, 512)
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	select {
	case v := <-viewers:
		return v, ws
	case <-time.After(10 * time.Second):
		t.Fatal("no session")
		return nil, nil
	}
}

func frameN(i int) []byte { return fmt.Appendf(nil, `{"type":"chat","text":"%d"}`, i) }

// A burst far larger than melody's buffer, but within the queue limit,
// reaches a viewer that was not reading, whole and in order.
func TestBurstBeyondSessionBufferArrivesInOrder(t *testing.T) {
	const limit, sessionBuffer, burst = 40, 4, 35
	v, ws := pipedViewer(t, limit, sessionBuffer)
	for i := range burst {
		v.Send(frameN(i))
	}
	if v.Closed() {
		t.Fatal("a burst within the limit closed the viewer")
	}
	if q := v.Queued(); q < burst-2 {
		t.Fatalf("queued = %d right after the burst to a reader that has not read; want about %d", q, burst)
	}
	for i := range burst {
		_, got, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if string(got) != string(frameN(i)) {
			t.Fatalf("frame %d = %s, want %s", i, got, frameN(i))
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for v.Queued() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if q := v.Queued(); q != 0 {
		t.Fatalf("queued = %d after every frame was read", q)
	}
	v.outMu.Lock()
	overflow, in := v.overflow, v.inMelody
	v.outMu.Unlock()
	if overflow != nil || in != 0 {
		t.Errorf("drained viewer holds overflow %v and %d frames in melody; want none", overflow, in)
	}
}

// A viewer that does not read past the queue limit is closed with 1013
// slow_consumer, after the frames queued before it.
func TestQueueLimitClosesSlowViewerAfterItsFrames(t *testing.T) {
	const limit, sessionBuffer = 20, 4
	v, ws := pipedViewer(t, limit, sessionBuffer)
	sent := 0
	for !v.Closed() && sent < 10*limit {
		v.Send(frameN(sent))
		sent++
	}
	if !v.Closed() || v.CloseCode() != protocol.CloseTryAgainLater.Int() {
		t.Fatalf("after %d frames: closed %v code %d, want closed with 1013", sent, v.Closed(), v.CloseCode())
	}
	for i := 0; ; i++ {
		_, got, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != protocol.CloseTryAgainLater.Int() || ce.Text != "slow_consumer" {
				t.Fatalf("closed with %d %q, want 1013 slow_consumer", ce.Code, ce.Text)
			}
			if i != limit {
				t.Fatalf("close came after %d frames, want after the %d queued before it", i, limit)
			}
			return
		}
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if string(got) != string(frameN(i)) {
			t.Fatalf("frame %d = %s, want %s", i, got, frameN(i))
		}
	}
}
