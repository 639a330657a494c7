// Package gateway serves viewers: the WebSocket endpoint that appends their
// events to party streams and fans the streams out to them, plus probes and
// metrics. It is this project's code, not a public API.
package gateway
