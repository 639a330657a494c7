package gateway

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
)

// upgradeDetached runs serve (melody's HandleRequest: the upgrade, then the
// viewer's whole read loop) on a goroutine of its own and returns as soon
// as the upgrade has taken over the connection or failed.
//
// A handler that ran the read loop itself would keep net/http's goroutine
// for the connection, its stack and the connection's 4 KiB read and 4 KiB
// write buffers alive as long as the viewer stays, though a WebSocket
// never uses them after the handshake: about a third of what an idle
// viewer costs. Returning right after the hijack lets net/http drop them.
//
// Until the hand-over, serve's writes (an upgrade refused with 400, 403…)
// go to w while this handler waits, as if it wrote them itself; r's
// context outlives the handler, since the request is over only when the
// viewer leaves. done runs when serve returns.
func upgradeDetached(w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter, *http.Request), done func()) {
	d := &detachedWriter{ResponseWriter: w, handedOver: make(chan struct{})}
	r = r.WithContext(context.WithoutCancel(r.Context()))
	go func() {
		defer done()
		defer d.handOver()
		serve(d, r)
	}()
	<-d.handedOver
}

// detachedWriter is w for the upgrade: the writes of a refusal go to w;
// Hijack takes over the connection and hands back buffers of the minimum
// size in place of net/http's (the upgrader brings its own).
type detachedWriter struct {
	http.ResponseWriter
	handedOver chan struct{}
	once       sync.Once
}

func (d *detachedWriter) handOver() { d.once.Do(func() { close(d.handedOver) }) }

// errEarlyData refuses a client that sent frames before the handshake
// completed (as the upgrader itself would).
var errEarlyData = errors.New("websocket: client sent data before handshake is complete")

// Hijack hijacks w's connection and, when it succeeded, ends the
// hand-over (on an error the upgrader still answers through w).
func (d *detachedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(d.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if rw.Reader.Buffered() > 0 {
		_ = conn.Close()
		return nil, nil, errEarlyData
	}
	d.ResponseWriter = nil // as coalescingWriter.Hijack does
	d.handOver()
	return conn, bufio.NewReadWriter(bufio.NewReaderSize(conn, 16), bufio.NewWriterSize(conn, 16)), nil
}

// Unwrap lets http.ResponseController reach the wrapped writer.
func (d *detachedWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }
