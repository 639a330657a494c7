package gateway_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/watchparty/watchparty/internal/gateway"
	"github.com/watchparty/watchparty/internal/store"
)

// shortTimeouts is every HTTP timeout at 300 ms (the write timeout 600 ms,
// to leave time to answer a body that stalled) and no other limit.
func shortTimeouts() gateway.Config {
	const d = 300 * time.Millisecond
	return gateway.Config{ReadHeaderTimeout: d, ReadTimeout: d, WriteTimeout: 2 * d, IdleTimeout: d}
}

// closedWithin reads from conn until the server closes it, failing the
// test unless that happens within limit.
func closedWithin(t *testing.T, conn net.Conn, limit time.Duration) {
	t.Helper()
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v", limit)
	}
}

func dialRaw(t *testing.T, e *apiEnv) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestSlowHeadersAreCut: a client that never finishes its headers is
// disconnected after the read-header timeout.
func TestSlowHeadersAreCut(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, shortTimeouts())
	conn := dialRaw(t, e)
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	closedWithin(t, conn, 3*time.Second)
}

// TestSlowBodyIsCut: a REST client that stops sending its body does not
// hold the handler past the read timeout.
func TestSlowBodyIsCut(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, shortTimeouts())
	conn := dialRaw(t, e)
	if _, err := io.WriteString(conn, "POST /api/parties?user=alice HTTP/1.1\r\nHost: x\r\n"+
		"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"title\":"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer to a stalled body within 3s: %v", err)
	}
	if !strings.Contains(line, "400") {
		t.Fatalf("stalled body answered %q, want 400", line)
	}
}

// TestIdleKeepAliveIsCut: an idle keep-alive connection is closed after
// the idle timeout.
func TestIdleKeepAliveIsCut(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, shortTimeouts())
	conn := dialRaw(t, e)
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	closedWithin(t, conn, 3*time.Second) // reads the response, then EOF
}

// TestWebSocketOutlivesHTTPTimeouts: a viewer stays connected, busy and
// idle, for several times every HTTP timeout.
func TestWebSocketOutlivesHTTPTimeouts(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out every HTTP timeout several times; skipped with -short")
	}
	t.Parallel()
	e := newServedEnv(t, shortTimeouts())
	party := e.insert("alice", store.Ongoing)
	v := e.mustJoin(party, "bob", nil)
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if f := v.send(map[string]any{"type": "chat", "text": "still here"}); f["type"] != "ack" {
			t.Fatalf("chat %v", f)
		}
		time.Sleep(100 * time.Millisecond) // pacing the chats, not synchronisation
	}
	// Quiet for three times every timeout (being idle is what is tested
	// here, not a wait for something), then it still works.
	time.Sleep(time.Second)
	if f := v.send(map[string]any{"type": "chat", "text": "after a quiet second"}); f["type"] != "ack" {
		t.Fatalf("chat after a quiet second: %v", f)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
