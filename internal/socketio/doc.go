// Package socketio reads and writes the Engine.IO v4 and Socket.IO v5 packets
// of the gateway's /socket.io/ endpoint, text packets only.
package socketio
