package socketio

import (
	"encoding/json"
	"strconv"
	"time"
)

// Engine.IO v4 packet types: the first byte of every WebSocket message of
// the transport.
const (
	EngineOpen    byte = '0'
	EngineClose   byte = '1'
	EnginePing    byte = '2'
	EnginePong    byte = '3'
	EngineMessage byte = '4' // a Socket.IO packet follows
	EngineUpgrade byte = '5'
	EngineNoop    byte = '6'
)

// Protocol is the Engine.IO protocol version served (the EIO query).
const Protocol = "4"

// Ping is the Engine.IO ping the server sends every ping interval.
var Ping = []byte{EnginePing}

// Open is the Engine.IO open packet: the session id, no upgrades (the
// transport is the WebSocket already), the heartbeat and the largest
// message the server reads.
func Open(sid string, pingInterval, pingTimeout time.Duration, maxPayload int) []byte {
	b, _ := json.Marshal(struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int64    `json:"pingInterval"`
		PingTimeout  int64    `json:"pingTimeout"`
		MaxPayload   int      `json:"maxPayload"`
	}{sid, []string{}, pingInterval.Milliseconds(), pingTimeout.Milliseconds(), maxPayload})
	return append([]byte{EngineOpen}, b...)
}

// AppendHeader appends the Engine.IO message byte and a Socket.IO
// packet's type, namespace and ack id (id < 0: none) to b: what precedes
// its data.
func AppendHeader(b []byte, t PacketType, nsp string, id int64) []byte {
	b = append(b, EngineMessage, byte('0'+t))
	if nsp != "" && nsp != "/" {
		b = append(b, nsp...)
		b = append(b, ',')
	}
	if id >= 0 {
		b = strconv.AppendInt(b, id, 10)
	}
	return b
}
