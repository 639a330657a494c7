package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// PacketType is a Socket.IO v5 packet type.
type PacketType byte

// The Socket.IO v5 packet types.
const (
	Connect      PacketType = 0
	Disconnect   PacketType = 1
	Event        PacketType = 2
	Ack          PacketType = 3
	ConnectError PacketType = 4
	BinaryEvent  PacketType = 5
	BinaryAck    PacketType = 6
)

// Packet is one decoded Socket.IO packet (the part of an Engine.IO
// message after its type byte).
type Packet struct {
	Type PacketType
	// Namespace is "/" when the packet names none.
	Namespace string
	// ID is the ack id, or -1 when the sender wants no ack.
	ID int64
	// Attachments is the number of binary attachments announced by a
	// BinaryEvent or BinaryAck.
	Attachments int
	// Data is the packet's JSON payload, nil when it has none.
	Data json.RawMessage
}

// ErrMalformed is wrapped by every error Decode returns.
var ErrMalformed = errors.New("malformed Socket.IO packet")

// maxIDDigits keeps an ack id within what JavaScript counts exactly.
const maxIDDigits = 15

// Decode reads a Socket.IO v5 packet in its text encoding:
//
//	<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
//
// The payload must be JSON of the kind the type carries: an object or
// nothing for Connect, nothing for Disconnect, a non-empty array starting
// with the event name for Event, an array for Ack, an object or a string
// for ConnectError.
func Decode(s []byte) (Packet, error) {
	p := Packet{Namespace: "/", ID: -1}
	if len(s) == 0 || s[0] < '0' || s[0] > '6' {
		return p, fmt.Errorf("%w: unknown packet type", ErrMalformed)
	}
	p.Type, s = PacketType(s[0]-'0'), s[1:]
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		i := bytes.IndexByte(s, '-')
		if i <= 0 || i > 3 {
			return p, fmt.Errorf("%w: bad attachment count", ErrMalformed)
		}
		n, err := strconv.Atoi(string(s[:i]))
		if err != nil || n < 0 {
			return p, fmt.Errorf("%w: bad attachment count", ErrMalformed)
		}
		p.Attachments, s = n, s[i+1:]
	}
	if len(s) > 0 && s[0] == '/' {
		i := bytes.IndexByte(s, ',')
		if i < 0 {
			i = len(s)
		}
		p.Namespace, s = string(s[:i]), s[min(i+1, len(s)):]
	}
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n > maxIDDigits {
		return p, fmt.Errorf("%w: ack id too long", ErrMalformed)
	}
	if n > 0 {
		p.ID, _ = strconv.ParseInt(string(s[:n]), 10, 64)
		s = s[n:]
	}
	if len(s) > 0 {
		p.Data = json.RawMessage(s)
	}
	return p, p.check()
}

// check tells whether the payload fits the packet's type.
func (p Packet) check() error {
	kind := jsonKind(p.Data)
	ok := false
	switch p.Type {
	case Connect:
		ok = kind == 0 || kind == '{'
	case Disconnect:
		ok = kind == 0
	case Event, BinaryEvent:
		_, _, err := p.Event()
		return err
	case Ack, BinaryAck:
		ok = kind == '['
	case ConnectError:
		ok = kind == '{' || kind == '"'
	}
	if !ok {
		return fmt.Errorf("%w: bad payload for packet type %d", ErrMalformed, p.Type)
	}
	return nil
}

// jsonKind is the first byte of a valid JSON value (0 for none, '?' for
// invalid JSON).
func jsonKind(data json.RawMessage) byte {
	if data == nil {
		return 0
	}
	if !json.Valid(data) {
		return '?'
	}
	return bytes.TrimLeft(data, " \t\r\n")[0]
}

// Event splits an Event packet's payload into its name and arguments.
func (p Packet) Event() (name string, args []json.RawMessage, err error) {
	var all []json.RawMessage
	if jsonKind(p.Data) != '[' || json.Unmarshal(p.Data, &all) != nil || len(all) == 0 {
		return "", nil, fmt.Errorf("%w: an event is a JSON array starting with its name", ErrMalformed)
	}
	if err := json.Unmarshal(all[0], &name); err != nil {
		return "", nil, fmt.Errorf("%w: an event's name is a string", ErrMalformed)
	}
	return name, all[1:], nil
}

// Append appends p's text encoding, with its Engine.IO message byte, to b.
// Binary packets are never written: their attachment count is left out.
func (p Packet) Append(b []byte) []byte {
	return append(AppendHeader(b, p.Type, p.Namespace, p.ID), p.Data...)
}
