package gateway

import (
	"bytes"
	"encoding/json"

	"github.com/watchparty/watchparty/internal/protocol"
	"github.com/watchparty/watchparty/internal/socketio"
)

// Frame implements room.Framing: a /ws frame becomes the event named by
// its type, with the frame's JSON as its argument and, for a stream
// entry, its stream id as the last argument (socket.io-client's recovery
// offset). A fresh welcome carries its last_id that way; a resuming one
// none, as the client's offset must stay where it was. Frames that are
// already packets (Engine.IO, acks) pass as they are.
func (x *sioConn) Frame(frame []byte) []byte {
	nsp := x.nsp.Load()
	if len(frame) == 0 || frame[0] != '{' || nsp == nil {
		return frame
	}
	typ := frameType(frame)
	var offset []byte
	if string(typ) == protocol.FrameWelcome {
		offset = x.welcomeOffset(frame)
	} else {
		offset = streamIDOf(frame)
	}
	out := make([]byte, 0, len(frame)+len(*nsp)+len(typ)+len(offset)+16)
	out = socketio.AppendHeader(out, socketio.Event, *nsp, -1)
	out = append(out, `["`...)
	out = append(out, typ...)
	out = append(out, `",`...)
	out = append(out, frame...)
	if offset != nil {
		out = append(out, `,"`...)
		out = append(out, offset...)
		out = append(out, '"')
	}
	return append(out, ']')
}

// Closing implements room.Framing: a close the client must not undo by
// reconnecting (kicked, banned, party ended, token expired, too many
// invalid frames) is told as a "closing" event with its code and reason,
// then a DISCONNECT, which socket.io-client does not reconnect after.
// Other closes (1001, 1013) end the transport only, and the client
// reconnects and recovers by itself.
func (x *sioConn) Closing(code protocol.CloseCode, reason string) [][]byte {
	nsp := x.nsp.Load()
	if nsp == nil || (code != protocol.CloseRemoved && code != protocol.CloseNormal && code != protocol.ClosePolicy) {
		return nil
	}
	b, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	}{protocol.FrameClosing, code.Int(), reason})
	return [][]byte{x.Frame(b), socketio.Packet{Type: socketio.Disconnect, Namespace: *nsp, ID: -1}.Append(nil)}
}

var typePrefix = []byte(`{"type":"`)

// frameType reads a frame's type without decoding it: frames start with it.
func frameType(frame []byte) []byte {
	if !bytes.HasPrefix(frame, typePrefix) {
		return []byte("message")
	}
	rest := frame[len(typePrefix):]
	if i := bytes.IndexByte(rest, '"'); i > 0 {
		return rest[:i]
	}
	return []byte("message")
}

var streamIDField = []byte(`,"stream_id":"`)

// streamIDOf is the stream id of an entry's frame, nil for other frames.
// The first match is the frame's own: a string value cannot hold the
// marker's unescaped quotes.
func streamIDOf(frame []byte) []byte {
	i := bytes.Index(frame, streamIDField)
	if i < 0 {
		return nil
	}
	rest := frame[i+len(streamIDField):]
	if j := bytes.IndexByte(rest, '"'); j > 0 {
		return rest[:j]
	}
	return nil
}

// welcomeOffset is the offset a welcome carries: its last_id unless it
// resumes. A welcome that could not resume after a CONNECT answered as
// recovered closes the connection (1013), so that the client connects
// again and is told it did not recover.
func (x *sioConn) welcomeOffset(frame []byte) []byte {
	var w struct {
		LastID  string `json:"last_id"`
		Resumed *bool  `json:"resumed"`
	}
	if json.Unmarshal(frame, &w) != nil {
		return nil
	}
	if w.Resumed != nil {
		if !*w.Resumed && x.recovering {
			go x.viewer.Close(protocol.CloseTryAgainLater, protocol.ReasonCatchUpFailed) // not under the viewer's lock
		}
		return nil
	}
	if w.LastID == "" {
		return nil
	}
	return []byte(w.LastID)
}

// encodeReply is the frame answering the client frame being handled: its
// JSON on /ws; on Socket.IO an ack packet through the event's ack id
// ({event_id, stream_id} or {error: {code, message}}), or, without one,
// an event (none for a plain ack).
func (c *conn) encodeReply(v any) ([]byte, error) {
	x := c.sio
	if x == nil {
		return json.Marshal(v)
	}
	body := v
	switch f := v.(type) {
	case protocol.Ack:
		if x.ackID < 0 {
			return nil, nil
		}
		body = struct {
			EventID  string `json:"event_id"`
			StreamID string `json:"stream_id,omitempty"`
		}{f.EventID, f.StreamID}
	case protocol.Error:
		if x.ackID >= 0 {
			type detail struct {
				Code    protocol.Code `json:"code"`
				Message string        `json:"message"`
			}
			body = struct {
				Error detail `json:"error"`
			}{detail{f.Code, f.Message}}
		}
	}
	b, err := json.Marshal(body)
	nsp := x.nsp.Load()
	if err != nil || x.ackID < 0 || nsp == nil {
		return b, err
	}
	out := socketio.AppendHeader(make([]byte, 0, len(b)+len(*nsp)+24), socketio.Ack, *nsp, x.ackID)
	out = append(out, '[')
	out = append(out, b...)
	return append(out, ']'), nil
}
