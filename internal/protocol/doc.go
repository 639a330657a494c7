// Package protocol declares the wire values of the viewer protocol
// (docs/protocol.md) once: the error codes, the WebSocket close codes and
// reasons, the names of the frames that are not events, and the ack and error
// frames. Event kinds are internal/event's. It imports nothing of this
// module, so every package that speaks to viewers can use it.
package protocol
