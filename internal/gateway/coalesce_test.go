package gateway

import (
	"bytes"
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

// recordingConn records each Write as one system call would send it.
type recordingConn struct {
	net.Conn
	writes []string
	closed bool
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *recordingConn) Close() error { c.closed = true; return nil }

func TestCoalescingConnWritesAtOnceWithoutAQueue(t *testing.T) {
	rec := &recordingConn{}
	c := &coalescingConn{Conn: rec}
	for _, f := range []string{"handshake", "welcome"} { // before setMore: no viewer yet
		if _, err := c.Write([]byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	c.setMore(func() bool { return false })
	if _, err := c.Write([]byte("lone")); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rec.writes, "|"); got != "handshake|welcome|lone" {
		t.Fatalf("writes = %q, want each frame written at once", got)
	}
}

func TestCoalescingConnHoldsWhileFramesAreQueued(t *testing.T) {
	rec := &recordingConn{}
	c := &coalescingConn{Conn: rec}
	var queued atomic.Int64
	c.setMore(func() bool { return queued.Load() > 1 })
	queued.Store(3)
	for _, f := range []string{"a", "b", "c"} {
		if _, err := c.Write([]byte(f)); err != nil {
			t.Fatal(err)
		}
		queued.Add(-1) // the frame was written (Viewer.Sent)
	}
	if got := strings.Join(rec.writes, "|"); got != "abc" {
		t.Fatalf("writes = %q, want the three queued frames in one write, in order", got)
	}
	queued.Store(1)
	if _, err := c.Write([]byte("d")); err != nil {
		t.Fatal(err)
	}
	if got := rec.writes[len(rec.writes)-1]; got != "d" {
		t.Fatalf("last write = %q, want the lone frame at once", got)
	}
}

func TestCoalescingConnBoundsWhatItHolds(t *testing.T) {
	rec := &recordingConn{}
	c := &coalescingConn{Conn: rec}
	c.setMore(func() bool { return true }) // a queue that never empties
	frame := bytes.Repeat([]byte("x"), 1000)
	total := 0
	for range 100 {
		if _, err := c.Write(frame); err != nil {
			t.Fatal(err)
		}
		total += len(frame)
	}
	if len(rec.writes) == 0 {
		t.Fatal("nothing written while the queue stayed full")
	}
	for _, w := range rec.writes {
		if len(w) > coalesceBytes+len(frame) {
			t.Fatalf("one write of %d bytes; at most %d may be held", len(w), coalesceBytes)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !rec.closed {
		t.Fatal("Close did not close the connection")
	}
	if got := len(strings.Join(rec.writes, "")); got != total {
		t.Fatalf("%d bytes written in all, want %d: Close must write what was held", got, total)
	}
}
