package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/protocol"
	"github.com/watchparty/watchparty/internal/socketio"
	"github.com/watchparty/watchparty/internal/stream"
)

// sioAuth is the CONNECT payload: the credentials of /ws's query, and
// socket.io-client's recovery state.
type sioAuth struct {
	Token  string `json:"token"`
	User   string `json:"user"`
	Name   string `json:"name"`
	PID    string `json:"pid"`
	Offset string `json:"offset"`
}

// sioConnect joins the party a CONNECT names, or answers CONNECT_ERROR
// with the code and message /ws gives for the same refusal.
func (g *Gateway) sioConnect(c *conn, p socketio.Packet) {
	x := c.sio
	refuse := func(status int, code protocol.Code, msg string) {
		g.sendConnectError(c, p.Namespace, status, code, msg)
		if x.refused++; x.refused >= sioConnectAttempts {
			c.viewer.Close(protocol.ClosePolicy, protocol.ReasonTooManyConnects)
		}
	}
	g.drainMu.RLock()
	draining := g.draining
	g.drainMu.RUnlock()
	if draining { // as serveWS refuses an upgrade
		refuse(http.StatusServiceUnavailable, protocol.CodeUnavailable, "server shutting down")
		return
	}
	partyID, ok := strings.CutPrefix(p.Namespace, "/parties/")
	if !ok {
		refuse(http.StatusNotFound, protocol.CodeNotFound, "Invalid namespace: a party is /parties/<id>")
		return
	}
	var a sioAuth
	if p.Data != nil && json.Unmarshal(p.Data, &a) != nil {
		refuse(http.StatusBadRequest, protocol.CodeInvalidRequest, "auth must be an object of strings: token (or user), pid, offset")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := x.req.Clone(ctx)
	q := url.Values{}
	for k, v := range map[string]string{"token": a.Token, "user": a.User, "name": a.Name} {
		if v != "" {
			q.Set(k, v)
		}
	}
	req.URL.RawQuery = q.Encode()
	adm, no, ok := g.admit(req, partyID)
	if !ok {
		if no.counted {
			g.metrics.Events.WithLabelValues(string(event.Join), no.code.String()).Inc()
		}
		refuse(no.status, no.code, no.msg)
		return
	}
	x.release, x.req = adm.release, nil
	c.party, c.viewer.Party, c.viewer.Identity = adm.party, adm.party.ID, adm.identity
	pid := g.recover(ctx, c, a)
	x.nsp.Store(&p.Namespace)
	x.joined.Store(true)
	answer, _ := json.Marshal(struct {
		SID string `json:"sid"`
		PID string `json:"pid"`
	}{uuid.NewString(), pid})
	c.viewer.Send(socketio.Packet{Type: socketio.Connect, Namespace: p.Namespace, ID: -1, Data: answer}.Append(nil))
	g.enterRoom(c)
}

// recover decides the session a CONNECT continues. socket.io-client sends
// back the pid of its last CONNECT answer and the offset of the last event
// it received (the stream id the gateway puts last in each event). When
// every entry after that offset is still in the stream, the connection
// resumes from it (since) and keeps the pid, which the client reads as
// recovered; otherwise it starts afresh under a new pid.
func (g *Gateway) recover(ctx context.Context, c *conn, a sioAuth) (pid string) {
	if a.PID == "" || len(a.PID) > 64 || a.Offset == "" {
		return uuid.NewString()
	}
	ok, err := stream.Resumable(ctx, g.rdb, stream.KeysFor(c.party.ID), a.Offset)
	if err != nil || !ok {
		return uuid.NewString()
	}
	c.since, c.sio.recovering = a.Offset, true
	return a.PID
}

// sendConnectError answers a CONNECT with CONNECT_ERROR: message is what
// socket.io-client's connect_error shows, data carries the /ws code.
func (g *Gateway) sendConnectError(c *conn, nsp string, status int, code protocol.Code, msg string) {
	type data struct {
		Code   protocol.Code `json:"code"`
		Status int           `json:"status"`
	}
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
		Data    data   `json:"data"`
	}{msg, data{code, status}})
	c.viewer.Send(socketio.Packet{Type: socketio.ConnectError, Namespace: nsp, ID: -1, Data: b}.Append(nil))
}
