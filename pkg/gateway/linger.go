package gateway

import (
	"io"
	"net"
	"sync"
	"time"
)

// lingerTimeout bounds how long a closed WebSocket keeps reading what the
// client still sends.
const lingerTimeout = 2 * time.Second

// lingerConn closes a viewer's TCP connection gracefully. melody closes the
// connection right after writing a close frame; if the client's frames are
// still unread at that moment, the kernel answers with a reset, and the
// client may lose the close frame (it sees 1006 instead of 1001 or 1000).
// Close therefore only shuts the write side (FIN after the close frame),
// and a goroutine reads and discards what arrives until the client closes
// or lingerTimeout passes, then closes the socket. wg tracks those
// goroutines so the gateway waits for them before it exits.
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
			return
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			_ = c.Conn.SetReadDeadline(time.Now().Add(lingerTimeout))
			_, _ = io.Copy(io.Discard, c.Conn)
			_ = c.Conn.Close()
		}()
	})
	return err
}
