package gateway

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// coalesceBytes bounds what a viewer's connection holds back before it
// writes; a write of that size is already large enough to amortise the
// system call.
const coalesceBytes = 16 << 10

// coalescePool keeps the hold-back buffers between bursts, so that an idle
// viewer holds none.
var coalescePool = sync.Pool{New: func() any { b := make([]byte, 0, coalesceBytes+maxFrameBytes); return &b }}

// coalescingConn writes several WebSocket frames of a viewer with one
// system call. Each frame still goes out as its own WebSocket message, in
// order; only the TCP writes are fewer. A frame is held back only while
// more says more frames are queued behind it (they will be written at
// once, by the same writer), and everything held is written with the
// first frame after which the queue is empty, or when coalesceBytes are
// held. A lone frame is never delayed. Frames that bypass the queue
// (pings, pongs, close) are written like any other and flush what is held
// when nothing is queued behind them; Close writes what is held first.
type coalescingConn struct {
	net.Conn
	more atomic.Pointer[func() bool]

	mu  sync.Mutex
	buf *[]byte // held bytes; nil when nothing is held
}

// setMore installs the check of the viewer's queue; until it is set, every
// write goes out at once.
func (c *coalescingConn) setMore(more func() bool) { c.more.Store(&more) }

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	more := c.more.Load()
	hold := more != nil && (*more)()
	if c.buf == nil {
		if !hold {
			return c.Conn.Write(p)
		}
		c.buf = coalescePool.Get().(*[]byte)
	}
	*c.buf = append(*c.buf, p...)
	if hold && len(*c.buf) < coalesceBytes {
		return len(p), nil
	}
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *coalescingConn) flushLocked() error {
	if c.buf == nil {
		return nil
	}
	b := c.buf
	c.buf = nil
	_, err := c.Conn.Write(*b)
	*b = (*b)[:0]
	coalescePool.Put(b)
	return err
}

// Close writes what is held (the close frame may be among it), then
// closes the connection.
func (c *coalescingConn) Close() error {
	c.mu.Lock()
	err := c.flushLocked()
	c.mu.Unlock()
	return errors.Join(err, c.Conn.Close())
}

// coalescingWriter hands the WebSocket upgrade a coalescingConn.
type coalescingWriter struct {
	http.ResponseWriter
	conn *coalescingConn // set by Hijack
}

// Unwrap lets http.ResponseController reach the wrapped writer.
func (w *coalescingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack wraps the hijacked connection.
func (w *coalescingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &coalescingConn{Conn: conn}
	// The connection is the WebSocket's now: let go of the request's
	// writer, which holds net/http's buffers for it (see upgradeDetached).
	w.ResponseWriter = nil
	return w.conn, rw, nil
}
