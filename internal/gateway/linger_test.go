package gateway_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/watchparty/watchparty/internal/gateway"
	"github.com/watchparty/watchparty/internal/store"
)

// TestClosedSocketLingers checks, over a real WebSocket, what the gateway
// promises when it closes a viewer's connection while bytes of the viewer
// are still unread (here the rest of an oversized frame): the viewer gets
// the close frame with its code, then the end of the stream, and what the
// viewer still sends meanwhile is read and dropped rather than answered
// with a reset that could destroy the close frame.
func TestClosedSocketLingers(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(*gateway.Config) {}))
	party := e.insert("alice", store.Ongoing)
	v := e.mustJoin(party, "alice", nil)
	conn := v.conn.NetConn()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))

	// The gateway reads 4 KiB of this, then closes with 1009.
	big := `{"type":"chat","text":"` + strings.Repeat("x", 256<<10) + `"}`
	if err := v.conn.WriteMessage(websocket.TextMessage, []byte(big)); err != nil {
		t.Fatalf("write the oversized frame: %v", err)
	}
	for {
		_, _, err := v.conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
			t.Fatalf("read after the oversized frame: %v; want close frame 1009", err)
		}
		break
	}

	chunk := make([]byte, 4096)
	for i := range 64 {
		if _, err := conn.Write(chunk); err != nil {
			t.Fatalf("write %d after the close frame: %v; the gateway reset the connection instead of draining it", i, err)
		}
	}
	if n, err := conn.Read(chunk); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("read after the close frame = %d bytes, %v; want the end of the stream", n, err)
	}
}
