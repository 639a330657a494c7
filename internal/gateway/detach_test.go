package gateway

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/gorilla/websocket"
)

// trackedWriter is the handler's writer, watched through a weak pointer.
type trackedWriter struct{ http.ResponseWriter }

// Unwrap lets http.ResponseController reach the hijacker.
func (w *trackedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestUpgradeDetachedFreesTheRequest checks, over a real WebSocket, that
// the handler returns once the upgrade took the connection, that the
// request's writer (and with it net/http's buffers of the connection) is
// then garbage while the WebSocket lives on, and that a refused upgrade is
// still answered over HTTP.
func TestUpgradeDetachedFreesTheRequest(t *testing.T) {
	upgrader := websocket.Upgrader{ReadBufferSize: readBufferBytes, WriteBufferPool: &writeBuffers}
	returned := make(chan weak.Pointer[trackedWriter], 1)
	ended := make(chan struct{}, 2) // serve ended: the refused upgrade, then the WebSocket
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackedWriter{ResponseWriter: w}
		out := &coalescingWriter{ResponseWriter: tw}
		upgradeDetached(out, r, func(w http.ResponseWriter, r *http.Request) {
			// The gateway keeps its coalescingWriter as long as the viewer.
			defer runtime.KeepAlive(out)
			ws, err := upgrader.Upgrade(w, r, nil)
			if err != nil {
				return // the upgrader answered through w
			}
			defer ws.Close()
			for {
				kind, msg, err := ws.ReadMessage()
				if err != nil {
					return
				}
				if err := ws.WriteMessage(kind, msg); err != nil {
					return
				}
			}
		}, func() { ended <- struct{}{} })
		returned <- weak.Make(tw)
	}))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a plain GET got %d, want 400 from the upgrader", resp.StatusCode)
	}
	<-returned
	<-ended

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var tw weak.Pointer[trackedWriter]
	select {
	case tw = <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not return after the upgrade")
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.GC(); tw.Value() != nil; runtime.GC() {
		if time.Now().After(deadline) {
			t.Fatal("the request's writer is still reachable from the open WebSocket")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "hello" {
		t.Fatalf("echo after the handler returned: %q %v", msg, err)
	}
	ws.Close()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the detached connection did not end after the client closed")
	}
}
