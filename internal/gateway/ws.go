package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"

	"github.com/watchparty/watchparty/internal/auth"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/protocol"
	"github.com/watchparty/watchparty/internal/room"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
)

const connKey = "conn"

// conn is the gateway's state of one viewer connection.
type conn struct {
	viewer *room.Viewer
	joined bool
	party  store.Party
	since  string
	expiry *time.Timer
	// out is the connection's writer; its conn batches the writes of
	// frames queued back to back (see coalescingConn).
	out *coalescingWriter
	// ended is how the connection ended from the client's side: its close
	// code, 1009 for an oversized frame, 1006 without a close frame.
	ended atomic.Int32
	// sio is the state of a /socket.io/ connection; nil on /ws.
	sio *sioConn
	// appends are the connection's events sent to Redis whose answers
	// were not yet written (see inflight.go).
	appends inFlight
}

// noteEnd records why reading from the connection stopped.
func (c *conn) noteEnd(err error) {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		c.ended.CompareAndSwap(0, int32(ce.Code))
	case errors.Is(err, websocket.ErrReadLimit):
		c.ended.CompareAndSwap(0, websocket.CloseMessageTooBig)
	}
}

// closeCode is the code the connection ended with: the gateway's when it
// closed it, else the client's, else 1006 (abnormal: no close frame).
func (c *conn) closeCode() int {
	if code := c.viewer.CloseCode(); code != 0 {
		return code
	}
	if code := c.ended.Load(); code != 0 {
		return int(code)
	}
	return websocket.CloseAbnormalClosure
}

func (g *Gateway) newMelody() *melody.Melody {
	m := melody.New()
	m.Config.MaxMessageSize = maxFrameBytes
	m.Config.MessageBufferSize = sendBuffer
	// Client frames are small (at most maxFrameBytes, usually a chat):
	// a small read buffer is enough. Write buffers come from a pool for
	// the time of one message, so an idle viewer holds none.
	m.Upgrader.ReadBufferSize = readBufferBytes
	m.Upgrader.WriteBufferSize = writeBufferBytes
	m.Upgrader.WriteBufferPool = &writeBuffers
	m.Upgrader.CheckOrigin = func(r *http.Request) bool { return originAllowed(r, g.cfg.Origins()) }
	m.HandleConnect(g.connected)
	m.HandleDisconnect(g.onDisconnect)
	m.HandleMessage(g.received)
	m.HandleSentMessage(func(s *melody.Session, frame []byte) {
		if c := connOf(s); c != nil {
			c.viewer.Sent()
			if d, ok := c.viewer.DeliveryLatency(frame, time.Now()); ok {
				g.metrics.Delivery.Observe(d.Seconds())
			}
		}
	})
	m.HandleError(func(s *melody.Session, err error) {
		if c := connOf(s); c != nil {
			c.noteEnd(err)
		}
		if errors.Is(err, melody.ErrMessageBufferFull) {
			if c := connOf(s); c != nil && c.viewer.Close(protocol.CloseTryAgainLater, protocol.ReasonSlowConsumer) {
				g.metrics.SlowConsumers.Inc()
			}
		}
	})
	return m
}

// Buffer sizes of a viewer connection (see newMelody).
const (
	readBufferBytes  = 512
	writeBufferBytes = 4096
)

var writeBuffers sync.Pool

func connOf(s *melody.Session) *conn {
	v, ok := s.Get(connKey)
	if !ok {
		return nil
	}
	return v.(*conn)
}

// serveWS checks a join before the upgrade (admit), then upgrades.
func (g *Gateway) serveWS(w http.ResponseWriter, r *http.Request) {
	a, no, ok := g.admit(r, r.PathValue("id"))
	if !ok {
		g.refuseAdmission(w, no)
		return
	}
	party, id, release := a.party, a.identity, a.release
	upgrading := false
	defer func() {
		if !upgrading {
			release()
		}
	}()
	if !g.beginSession(w) {
		return
	}
	c := &conn{party: party, since: r.URL.Query().Get("since")}
	keys := map[string]any{connKey: c, "identity": id}
	out := &coalescingWriter{ResponseWriter: w}
	c.out = out
	upgrading = true
	upgradeDetached(out, r, func(w http.ResponseWriter, r *http.Request) {
		if err := g.melody.HandleRequestWithKeys(w, r, keys); err != nil {
			g.sessions.Done()
			g.log.Debug("websocket upgrade failed", "party_id", party.ID, "err", err)
		}
	}, release) // release when the viewer leaves
}

// beginSession counts a connection about to be upgraded (sessions), or
// answers 503 and reports false while the gateway drains.
func (g *Gateway) beginSession(w http.ResponseWriter) bool {
	g.drainMu.RLock()
	draining := g.draining
	if !draining {
		g.sessions.Add(1)
	}
	g.drainMu.RUnlock()
	if draining {
		writeError(w, http.StatusServiceUnavailable, protocol.CodeUnavailable, "server shutting down")
	}
	return !draining
}

// refuseJoin answers a join over a limit and counts it.
func (g *Gateway) refuseJoin(w http.ResponseWriter, r refusal) {
	g.metrics.Events.WithLabelValues(string(event.Join), r.code.String()).Inc()
	refuse(w, r)
}

// onConnect joins the viewer to its room. It runs on a short-lived
// goroutine of its own while melody's waits: the join's calls to Redis
// need a deep stack, which would otherwise stay with the read loop that
// melody runs next on the same goroutine for as long as the viewer stays.
func (g *Gateway) onConnect(s *melody.Session) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.join(s)
	}()
	<-done
}

func (g *Gateway) join(s *melody.Session) {
	// Nothing reads the request after the upgrade; it would keep its
	// headers and its contexts (with their timers) as long as the viewer.
	s.Request = nil
	c := connOf(s)
	id := s.MustGet("identity").(auth.Identity)
	c.viewer = room.NewViewer(s, c.party.ID, id, sendLimit, sendBuffer, func(*room.Viewer) { g.metrics.SlowConsumers.Inc() })
	if c.out != nil && c.out.conn != nil {
		v := c.viewer
		// While the frame being written is not the last one queued, the
		// next write follows at once: hold it back and write them together.
		c.out.conn.setMore(func() bool { return v.Queued() > 1 })
	}
	g.metrics.Connections.Inc()
	g.enterRoom(c)
}

// enterRoom joins c's viewer to its party's room: the welcome, then the
// party's frames. A viewer banned meanwhile is closed (4003) instead.
func (g *Gateway) enterRoom(c *conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The room looks at the bans again before the welcome (a ban that
	// came while this viewer joined would otherwise lie before the
	// position its welcome covers, so its kick would never reach it).
	c.viewer.Host = c.viewer.Identity.UserID == c.party.HostUserID
	switch err := g.rooms.Join(ctx, c.viewer, c.since); {
	case errors.Is(err, room.ErrBanned):
		g.metrics.Events.WithLabelValues(string(event.Join), protocol.CodeBanned.String()).Inc()
		c.viewer.Close(protocol.CloseRemoved, protocol.ReasonBanned)
		return
	case err != nil:
		g.log.Error("join failed", "party_id", c.party.ID, "err", err)
		c.viewer.Close(protocol.CloseTryAgainLater, protocol.ReasonJoinUnavailable)
		return
	}
	c.joined = true
	if id := c.viewer.Identity; !id.Expires.IsZero() {
		c.expiry = time.AfterFunc(time.Until(id.Expires), func() { c.viewer.Close(protocol.ClosePolicy, protocol.ReasonTokenExpired) })
	}
	g.record(ctx, c, event.Join)
}

func (g *Gateway) onDisconnect(s *melody.Session) {
	defer g.sessions.Done()
	c := connOf(s)
	if c == nil || c.viewer == nil {
		return
	}
	if c.expiry != nil {
		c.expiry.Stop()
	}
	g.metrics.Connections.Dec()
	g.metrics.Closes.WithLabelValues(strconv.Itoa(c.closeCode())).Inc()
	if !c.joined {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g.rooms.Leave(ctx, c.viewer)
	g.record(ctx, c, event.Leave)
}

// record appends a join or leave log event; they are not broadcast.
func (g *Gateway) record(ctx context.Context, c *conn, t event.Type) {
	e := g.newEvent(c, t, "")
	res, err := g.appender.Append(ctx, e, false)
	code, _ := appendOutcome(res, err)
	result := code.String()
	switch {
	case code.IsZero():
		result = resultAccepted
	case code != protocol.CodePartyEnded && code != protocol.CodeBanned: // after the end, or a ban, nothing is recorded
		g.log.Warn("could not record viewer event", "party_id", c.party.ID, "type", t, "code", code, "err", err)
	}
	g.metrics.Events.WithLabelValues(string(t), result).Inc()
}

func (g *Gateway) newEvent(c *conn, t event.Type, clientID string) event.Event {
	id := c.viewer.Identity
	return event.Event{Type: t, ID: event.NewID(c.party.ID, id.UserID, clientID), PartyID: c.party.ID,
		UserID: id.UserID, Name: id.Name, CreatedAt: event.Millis(g.now())}
}

// onMessage handles one client frame: validate, authorise, append, ack.
func (g *Gateway) onMessage(s *melody.Session, raw []byte) {
	arrived := time.Now()
	c := connOf(s)
	if c == nil || c.viewer == nil || c.viewer.Closed() {
		return
	}
	g.drainMu.RLock()
	if g.draining {
		g.drainMu.RUnlock()
		in, _ := event.ParseInbound(raw) // for the id the client must resend
		c.appends.settle()
		g.reply(c, protocol.NewError(in.ClientID, protocol.CodeUnavailable, "server shutting down; resend it with the same id"))
		return
	}
	g.inflight.Add(1)
	g.drainMu.RUnlock()
	defer g.inflight.Done()

	in, err := event.ParseInbound(raw)
	if err != nil || in.Type.IsModeration() {
		// Answered here, after the answers of the appends before it.
		c.appends.settle()
	}
	if err != nil && in.Type == pingType {
		g.onPing(c, in.ClientID) // no event: the parser knows it as no type of its own
		return
	}
	if err != nil {
		if in.Type == "" || !in.Type.Broadcast() {
			g.metrics.InvalidFrames.Inc()
		} else {
			g.metrics.Events.WithLabelValues(string(in.Type), protocol.CodeInvalidMessage.String()).Inc()
		}
		g.reply(c, protocol.NewError(in.ClientID, protocol.CodeInvalidMessage, err.Error()))
		if !g.limits.allowClass(c.party.ID, c.viewer.Identity.UserID, classInvalid, g.now()) {
			c.viewer.Close(protocol.ClosePolicy, protocol.ReasonTooManyInvalid)
		}
		return
	}
	if in.Type.IsModeration() {
		g.onModeration(c, in, arrived)
		return
	}
	if code, msg := g.authorise(c, in); !code.IsZero() {
		c.appends.settle()
		g.metrics.Events.WithLabelValues(string(in.Type), code.String()).Inc()
		g.reply(c, protocol.NewError(in.ClientID, code, msg))
		return
	}
	e := g.newEvent(c, in.Type, in.ClientID)
	e.Text = in.Text
	if in.Type.IsPlayback() {
		pos := in.PositionMS
		e.PositionMS = &pos
	}
	c.viewer.Expect(e.ID) // its broadcast frame may come before the ack
	if c.sio != nil {
		// A Socket.IO answer goes through the packet's ack id, which
		// is the packet's being read: answered before the next one.
		// No deadline of its own: the appender answers within its
		// patience (see Append), and a timer per event is measurable
		// at this rate.
		res, err := g.appender.Append(context.Background(), e, in.ClientID != "")
		g.appended(c, in, e, arrived, res, err)
		return
	}
	g.inflight.Add(1)
	g.submit(c, in, e, arrived)
}

// appended answers the frame in, stored as e (or not: res and err say),
// with its ack or its error.
func (g *Gateway) appended(c *conn, in event.Inbound, e event.Event, arrived time.Time, res stream.Result, err error) {
	code, msg := appendOutcome(res, err)
	if !code.IsZero() {
		c.viewer.Unexpect(e.ID)
		switch {
		case err != nil:
			g.log.Warn("append failed", "party_id", c.party.ID, "err", err)
		case res.Status == stream.Full:
			g.fullParties.warn(c.party.ID, g.now(), g.log)
		}
		g.refuse(c, in, code, msg)
		return
	}
	g.metrics.Append.Observe(time.Since(arrived).Seconds())
	g.metrics.Events.WithLabelValues(string(in.Type), resultAccepted).Inc()
	ack := protocol.NewAck(in.ClientID, e.ID.String(), res.StreamID)
	if res.Status != stream.Stored {
		c.viewer.Unexpect(e.ID)
		g.reply(c, ack)
		return
	}
	// The ack and the sender's own broadcast frame leave together.
	if b, err := c.encodeAck(ack); err == nil && b != nil {
		c.viewer.Acked(e.ID, res.StreamID, b)
	} else {
		c.viewer.Unexpect(e.ID)
	}
}

// encodeAck is encodeReply for an ack, without encoding/json on /ws.
func (c *conn) encodeAck(ack protocol.Ack) ([]byte, error) {
	if c.sio == nil {
		return ack.AppendJSON(make([]byte, 0, 128)), nil
	}
	return c.encodeReply(ack)
}

// refuse answers a frame that was not stored with its error, and closes a
// banned user's connection after it (4003, "banned").
func (g *Gateway) refuse(c *conn, in event.Inbound, code protocol.Code, msg string) {
	g.metrics.Events.WithLabelValues(string(in.Type), code.String()).Inc()
	g.reply(c, protocol.NewError(in.ClientID, code, msg))
	if code == protocol.CodeBanned {
		c.viewer.Close(protocol.CloseRemoved, protocol.ReasonBanned)
	}
}

// onModeration takes a moderation action sent over the WebSocket. Its
// token is taken before the action is authorised, so refusals count too.
func (g *Gateway) onModeration(c *conn, in event.Inbound, arrived time.Time) {
	if !g.limits.allow(c.party.ID, c.viewer.Identity.UserID, in.Type, g.now()) {
		g.refuse(c, in, protocol.CodeRateLimited, "too many moderation actions; slow down")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m := g.moderate(ctx, c.party, c.viewer.Identity, in)
	if !m.code.IsZero() {
		if m.err != nil {
			g.log.Warn("moderation failed", "party_id", c.party.ID, "type", in.Type, "err", m.err)
		}
		g.refuse(c, in, m.code, m.msg)
		return
	}
	g.log.Info("moderation", "party_id", c.party.ID, "type", in.Type, "by", c.viewer.Identity.UserID,
		"target", in.Target, "target_event_id", in.TargetEvent)
	g.metrics.Append.Observe(time.Since(arrived).Seconds())
	g.metrics.Events.WithLabelValues(string(in.Type), resultAccepted).Inc()
	g.reply(c, protocol.NewAck(in.ClientID, m.event.ID.String(), m.res.StreamID))
}

// authorise applies who may send the frame's kind (event.Kind.May) and
// its rate limit.
func (g *Gateway) authorise(c *conn, in event.Inbound) (code protocol.Code, msg string) {
	user := c.viewer.Identity.UserID
	switch in.Type.Kind().May {
	case event.ByViewer:
	case event.ByController:
		if c.party.Control != store.ControlEveryone && user != c.party.HostUserID {
			return protocol.CodeForbidden, "only the host controls playback in this party"
		}
	default: // moderation goes through onModeration; nothing else is sent by clients
		return protocol.CodeForbidden, "you may not send " + string(in.Type)
	}
	if !g.limits.allow(c.party.ID, user, in.Type, g.now()) {
		return protocol.CodeRateLimited, "too many " + string(in.Type) + " events; slow down"
	}
	return protocol.Code{}, ""
}

// appendOutcome maps an append result to the error code viewers see, or ""
// when the event was accepted.
func appendOutcome(res stream.Result, err error) (code protocol.Code, msg string) {
	switch {
	case err != nil:
		return protocol.CodeUnavailable, "event could not be stored; resend it with the same id"
	case res.Status == stream.Closed:
		return protocol.CodePartyEnded, "the party has ended"
	case res.Status == stream.Full:
		return protocol.CodeUnavailable, "the party's buffer is full; resend it with the same id later"
	case res.Status == stream.Muted:
		return protocol.CodeMuted, "you are muted in this party until " + event.FormatTime(res.MutedUntil)
	case res.Status == stream.Banned:
		return protocol.CodeBanned, "you are banned from this party"
	case res.Status == stream.Forbidden:
		return protocol.CodeForbidden, res.Reason
	case res.Status == stream.RateLimited:
		return protocol.CodeRateLimited, fmt.Sprintf("too many events across your connections; slow down (a token is back in %d ms)",
			max(res.RetryAfter.Milliseconds(), 1))
	case res.Status == stream.DeletedFull:
		return protocol.CodeRateLimited, "this party's deletes already hide as many chats as they may"
	default:
		return protocol.Code{}, ""
	}
}

// reply answers one of c's frames with v, after the answers of its frames
// before (see Viewer.Answer).
func (g *Gateway) reply(c *conn, v any) {
	b, err := c.encodeReply(v)
	if err != nil || b == nil {
		return
	}
	c.viewer.Answer(b)
}
