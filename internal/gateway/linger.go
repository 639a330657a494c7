package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// lingerTimeout bounds how long a closed WebSocket keeps reading what the
// client still sends.
const lingerTimeout = 2 * time.Second

// lingerOnClose makes every connection next hijacks (a WebSocket upgrade)
// close gracefully (lingerConn), counting the closes still under way in
// lingering so that shutdown can wait for them.
func lingerOnClose(next http.Handler, lingering *sync.WaitGroup) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&lingerWriter{ResponseWriter: w, lingering: lingering}, r)
	})
}

// lingerWriter hands out its hijacked connection as a lingerConn.
type lingerWriter struct {
	http.ResponseWriter
	lingering *sync.WaitGroup
}

// Unwrap lets http.ResponseController reach what lies beneath.
func (w *lingerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack lets the WebSocket upgrade take over the connection.
func (w *lingerWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// Counted from the hijack, while the request is still in flight (and
	// so before a shutdown waits for lingering connections), not from the
	// close, which melody may do on its writer goroutine after the
	// session's end was reported.
	w.lingering.Add(1)
	return &lingerConn{Conn: conn, wg: w.lingering}, rw, nil
}

// lingerConn closes a viewer's TCP connection gracefully. melody closes the
// connection right after writing a close frame; if the client's frames are
// still unread at that moment, the kernel answers with a reset, and the
// client may lose the close frame (it sees 1006 instead of 1001 or 1000).
// Close therefore only shuts the write side (FIN after the close frame),
// and a goroutine reads and discards what arrives until the client closes
// or lingerTimeout passes, then closes the socket. wg counts the
// connection from its hijack until it is closed, lingering included, so
// the gateway waits for every one before it exits.
type lingerConn struct {
	net.Conn
	wg   *sync.WaitGroup
	once sync.Once
}

func (c *lingerConn) Close() error {
	var err error
	c.once.Do(func() {
		tcp, ok := c.Conn.(interface{ CloseWrite() error })
		if !ok || tcp.CloseWrite() != nil {
			err = c.Conn.Close()
			c.wg.Done()
			return
		}
		go func() {
			defer c.wg.Done()
			_ = c.Conn.SetReadDeadline(time.Now().Add(lingerTimeout))
			_, _ = io.Copy(io.Discard, c.Conn)
			_ = c.Conn.Close()
		}()
	})
	return err
}
