package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/olahol/melody"

	"github.com/watchparty/watchparty/internal/auth"
	"github.com/watchparty/watchparty/internal/protocol"
	"github.com/watchparty/watchparty/internal/room"
	"github.com/watchparty/watchparty/internal/socketio"
)

// The /socket.io/ endpoint (docs/socketio.md) puts Socket.IO on the same
// viewers as /ws: Engine.IO v4 over a WebSocket served by the same melody,
// one namespace per connection, /parties/<id>. Its CONNECT joins through
// admit as a /ws join does, its events go through onMessage as /ws frames
// do, and its viewer is a room.Viewer in the party's hub whose frames are
// turned into Socket.IO packets on the way out (sioConn.Frame).

// Bounds of what a Socket.IO connection may do before it has joined.
const (
	sioConnectAttempts = 5 // refused CONNECTs, then the connection is closed
	sioStrayPackets    = invalidFrameBurst
)

// sioConn is the Socket.IO state of a connection.
type sioConn struct {
	req     *http.Request // the upgrade request, read by CONNECT; nil once joined
	viewer  *room.Viewer
	nsp     atomic.Pointer[string] // the namespace joined; read by Frame
	joined  atomic.Bool
	ackID   int64 // ack id of the packet being handled, -1 for none (read loop only)
	refused int   // CONNECTs refused (read loop only)
	strays  int   // bad packets before the join (read loop only)
	release func()

	// recovering says the CONNECT answer told the client it recovered:
	// a welcome saying otherwise (the stream was trimmed between the
	// check and the join) closes the connection so that it asks again.
	recovering bool

	beat heartbeat
}

// serveSocketIO upgrades an Engine.IO v4 WebSocket. HTTP long-polling
// (socket.io-client's first transport by default) is refused with 400:
// its requests must all reach the pod holding the session, which the
// gateway's stateless pods behind any load balancer do not promise.
func (g *Gateway) serveSocketIO(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("EIO") != socketio.Protocol:
		writeEngineError(w, 5, "Unsupported protocol version: this gateway speaks Engine.IO 4 (socket.io-client 3 and later)")
		return
	case q.Get("transport") != "websocket" || q.Get("sid") != "" || !websocket.IsWebSocketUpgrade(r):
		writeEngineError(w, 0, `Transport unknown: this gateway serves Socket.IO over WebSocket only; `+
			`connect with transports: ["websocket"] (docs/socketio.md)`)
		return
	}
	if !g.beginSession(w) {
		return
	}
	c := &conn{sio: &sioConn{ackID: -1}}
	out := &coalescingWriter{ResponseWriter: w}
	c.out = out
	upgradeDetached(out, r, func(w http.ResponseWriter, r *http.Request) {
		c.sio.req = r
		if err := g.melody.HandleRequestWithKeys(w, r, map[string]any{connKey: c}); err != nil {
			g.sessions.Done()
			g.log.Debug("socket.io upgrade failed", "err", err)
		}
	}, c.sio.end)
}

// closeUnjoined closes the Socket.IO connections that have not joined a
// party (Rooms.CloseAll closes the others), as part of the shutdown.
func (g *Gateway) closeUnjoined(code protocol.CloseCode, reason string) {
	sessions, err := g.melody.Sessions()
	if err != nil {
		return
	}
	for _, s := range sessions {
		// Not through the viewer: melody lists a session before its
		// connect handler has made one.
		if c := connOf(s); c != nil && c.sio != nil && !c.sio.joined.Load() {
			_ = s.CloseWithMsg(melody.FormatCloseMessage(code.Int(), reason))
		}
	}
}

// writeEngineError answers a request Engine.IO refuses, as its servers do.
func writeEngineError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, http.StatusBadRequest, struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg})
}

// end frees what the connection held once it is over.
func (x *sioConn) end() {
	x.beat.stop()
	if x.release != nil {
		x.release()
	}
}

// connected is melody's connect handler for both endpoints.
func (g *Gateway) connected(s *melody.Session) {
	c := connOf(s)
	if c == nil || c.sio == nil {
		g.onConnect(s)
		return
	}
	// No party or user yet: they come with CONNECT (sioConnect).
	c.viewer = room.NewViewer(s, uuid.Nil, auth.Identity{}, sendLimit, sendBuffer,
		func(*room.Viewer) { g.metrics.SlowConsumers.Inc() })
	c.sio.viewer = c.viewer
	c.viewer.SetFraming(c.sio)
	if c.out != nil && c.out.conn != nil {
		v := c.viewer
		c.out.conn.setMore(func() bool { return v.Queued() > 1 })
	}
	g.metrics.Connections.Inc()
	c.viewer.Send(socketio.Open(uuid.NewString(), g.cfg.SocketIOPingInterval, g.cfg.SocketIOPingTimeout, maxFrameBytes))
	c.sio.beat.start(c.sio, g.cfg.SocketIOPingInterval, g.cfg.SocketIOPingTimeout)
}

// received is melody's message handler for both endpoints.
func (g *Gateway) received(s *melody.Session, raw []byte) {
	c := connOf(s)
	if c == nil || c.sio == nil {
		g.onMessage(s, raw)
		return
	}
	if len(raw) == 0 {
		g.sioInvalid(c, -1, "empty Engine.IO packet")
		return
	}
	// Transport packets cost no event, but a client may not send them at
	// will: a pong that answers no ping, and the ping, upgrade and noop
	// packets of an upgrade from polling (which is not served), count as
	// invalid frames.
	switch raw[0] {
	case socketio.EnginePong:
		if !c.sio.beat.pong() {
			g.sioInvalid(c, -1, "Engine.IO pong without a ping")
		}
	case socketio.EngineClose:
		c.viewer.Close(protocol.CloseNormal, "")
	case socketio.EngineMessage:
		g.onPacket(s, c, raw[1:])
	default:
		g.sioInvalid(c, -1, "unexpected Engine.IO packet: a WebSocket-only client sends pongs, messages and close")
	}
}

// onPacket handles one Socket.IO packet.
func (g *Gateway) onPacket(s *melody.Session, c *conn, b []byte) {
	p, err := socketio.Decode(b)
	if err != nil {
		g.sioInvalid(c, p.ID, err.Error())
		return
	}
	joined := c.sio.joined.Load()
	if p.Type != socketio.Connect && (!joined || p.Namespace != *c.sio.nsp.Load()) {
		g.sioInvalid(c, -1, "not connected to namespace "+p.Namespace)
		return
	}
	switch p.Type {
	case socketio.Connect:
		if joined {
			// socket.io-client multiplexes namespaces of one server on one
			// connection unless told not to: refuse the second party on its
			// own namespace, so its socket gets connect_error, not silence.
			g.sendConnectError(c, p.Namespace, http.StatusConflict, protocol.CodeConflict,
				"this connection already carries "+*c.sio.nsp.Load()+": one party per connection; "+
					"open another with forceNew: true (or multiplex: false)")
			if c.sio.refused++; c.sio.refused >= sioConnectAttempts {
				c.viewer.Close(protocol.ClosePolicy, protocol.ReasonTooManyConnects)
			}
			return
		}
		g.inGoroutine(func() { g.sioConnect(c, p) })
		if c.sio.joined.Load() {
			s.Request = nil // as join does: nothing reads it after the join
		}
	case socketio.Event:
		name, args, _ := p.Event()
		frame, msg := inboundFrame(name, args)
		if msg != "" {
			g.sioInvalid(c, p.ID, msg)
			return
		}
		c.sio.ackID = p.ID
		g.onMessage(s, frame)
		c.sio.ackID = -1
	case socketio.BinaryEvent:
		g.sioInvalid(c, p.ID, "binary attachments are not supported; send JSON only")
	case socketio.Disconnect:
		c.viewer.Close(protocol.CloseNormal, protocol.ReasonNamespaceDisconnect)
	case socketio.Ack, socketio.BinaryAck: // the gateway asks for no acks: nothing to do
	default:
		g.sioInvalid(c, p.ID, "a client does not send this packet type")
	}
}

// inGoroutine runs fn on a short-lived goroutine and waits for it, so
// that the deep stack of a join does not stay with the read loop (see
// onConnect).
func (g *Gateway) inGoroutine(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// inboundFrame turns an event into the /ws frame it stands for: its one
// argument, an object without type, with type set to the event's name.
func inboundFrame(name string, args []json.RawMessage) (frame []byte, problem string) {
	if len(args) > 1 {
		return nil, "an event carries one argument, its payload object"
	}
	payload := json.RawMessage(`{}`)
	if len(args) == 1 {
		payload = json.RawMessage(strings.TrimSpace(string(args[0])))
	}
	var fields map[string]json.RawMessage
	if len(payload) == 0 || payload[0] != '{' || json.Unmarshal(payload, &fields) != nil {
		return nil, "an event's payload is a JSON object"
	}
	if _, ok := fields["type"]; ok {
		return nil, "type comes from the event name; leave it out of the payload"
	}
	typ, _ := json.Marshal(name)
	frame = append(append([]byte(`{"type":`), typ...), '}')
	if len(fields) > 0 {
		frame = append(append(frame[:len(frame)-1], ','), payload[1:]...)
	}
	return frame, ""
}

// sioInvalid answers a bad packet as onMessage answers an invalid frame:
// invalid_message (through the ack id when there is one), and the
// connection closed with 1008 past the invalid-frame limit. Before the
// join there is no party to answer in: bad packets are only counted.
func (g *Gateway) sioInvalid(c *conn, ackID int64, msg string) {
	g.metrics.InvalidFrames.Inc()
	if !c.sio.joined.Load() {
		if c.sio.strays++; c.sio.strays > sioStrayPackets {
			c.viewer.Close(protocol.ClosePolicy, protocol.ReasonTooManyInvalid)
		}
		return
	}
	c.sio.ackID = ackID
	g.reply(c, protocol.NewError("", protocol.CodeInvalidMessage, msg))
	c.sio.ackID = -1
	if !g.limits.allowClass(c.party.ID, c.viewer.Identity.UserID, classInvalid, g.now()) {
		c.viewer.Close(protocol.ClosePolicy, protocol.ReasonTooManyInvalid)
	}
}
