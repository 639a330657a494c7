package gateway_test

import (
	"encoding/json"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/watchparty/watchparty/internal/gateway"
	"github.com/watchparty/watchparty/internal/store/storetest"
)

// countingListener counts the writes (system calls) to the connections
// it accepts.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, writes: &l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestAckLeavesWithTheSendersBroadcast: a viewer chatting one message at
// a time gets its ack and its own broadcast of each chat, and the gateway
// writes them together: about one write per chat, not two.
func TestAckLeavesWithTheSendersBroadcast(t *testing.T) {
	g, db := newGateway(t, gateway.Config{})
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &countingListener{Listener: inner}
	serve(t, g, ln)
	party := storetest.NewParty(t, db)
	ws, _, err := websocket.DefaultDialer.Dial(fmt.Sprintf("ws://%s/ws/parties/%s?user=bob", inner.Addr(), party), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	read := func() map[string]string {
		t.Helper()
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var f map[string]any
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for k, v := range f {
			out[k] = fmt.Sprint(v)
		}
		return out
	}
	for read()["type"] != "welcome" {
	}
	const chats = 20
	before := ln.writes.Load()
	for i := range chats {
		id, text := fmt.Sprint("c", i), fmt.Sprint("hello ", i)
		if err := ws.WriteJSON(map[string]string{"type": "chat", "id": id, "text": text}); err != nil {
			t.Fatal(err)
		}
		var acked, echoed bool
		for !acked || !echoed {
			switch f := read(); {
			case f["type"] == "ack" && f["id"] == id:
				acked = true
			case f["type"] == "chat" && f["text"] == text:
				echoed = true
			case f["type"] == "viewers":
			default:
				t.Fatalf("unexpected frame %v while waiting for the ack and broadcast of %s", f, id)
			}
		}
	}
	writes := ln.writes.Load() - before
	t.Logf("%d writes for %d chats (ack and broadcast each)", writes, chats)
	if writes > chats*3/2 {
		t.Fatalf("%d writes for %d chats: the ack and the broadcast of a chat should mostly leave in one write", writes, chats)
	}
}
