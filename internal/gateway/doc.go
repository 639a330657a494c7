// Package gateway is the HTTP face of watchparty: one handler serves
//
//   - the WebSocket endpoint GET /ws/parties/{id}, where viewers join a
//     party, their chat, like and playback frames are appended to the
//     party's Redis stream (acked once stored) and the stream is fanned out
//     to every viewer of the party on this process;
//   - the REST API under /api/parties: create (POST /api/parties), list
//     (GET /api/parties), show (GET /api/parties/{id}), chat history paged
//     backwards (GET /api/parties/{id}/chats), end
//     (POST /api/parties/{id}/end) and cancel (POST /api/parties/{id}/cancel),
//     with JSON errors and CORS for the configured origins;
//   - the probes GET /healthz and GET /readyz;
//   - the browser app (/, /p/{id}, /static/, /media/);
//   - Prometheus metrics at GET /metrics, and Go's profiles on a separate
//     debug listener when one is configured.
package gateway
