// agent.js drives stock socket.io-client sockets for e2e/socketio_test.go.
// It reads one JSON command a line on stdin and writes one JSON report a
// line on stdout; it does nothing a frontend written from docs/socketio.md
// would not do.
//
//   {"cmd":"connect","name":"a","url":"http://host:port","nsp":"/parties/<id>","auth":{"user":"bob"}}
//   {"cmd":"emit","name":"a","event":"chat","payload":{"id":"c1","text":"hi"},"tag":"t1"}
//   {"cmd":"close","name":"a"}
//
// Reports: {"name","ev":"connect","recovered"}, {"name","ev":"connect_error","message","data"},
// {"name","ev":"disconnect","reason"}, {"name","ev":"event","event","args"},
// {"name","ev":"ack","tag","data"}.
"use strict";
const { io } = require("socket.io-client");
const readline = require("readline");

const sockets = new Map();
const report = (r) => process.stdout.write(JSON.stringify(r) + "\n");

function connect(c) {
  const socket = io(c.url + c.nsp, {
    transports: ["websocket"], // the gateway serves no long-polling
    auth: c.auth,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    ...(c.opts || {}),
  });
  sockets.set(c.name, socket);
  socket.on("connect", () => report({ name: c.name, ev: "connect", recovered: socket.recovered }));
  socket.on("connect_error", (err) => report({ name: c.name, ev: "connect_error", message: err.message, data: err.data }));
  socket.on("disconnect", (reason) => report({ name: c.name, ev: "disconnect", reason }));
  socket.onAny((event, ...args) => report({ name: c.name, ev: "event", event, args }));
}

function emit(c) {
  const socket = sockets.get(c.name);
  const args = c.payload === undefined ? [] : [c.payload];
  if (c.tag === undefined) {
    socket.emit(c.event, ...args);
    return;
  }
  socket.emit(c.event, ...args, (data) => report({ name: c.name, ev: "ack", tag: c.tag, data }));
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const c = JSON.parse(line);
  switch (c.cmd) {
    case "connect": connect(c); break;
    case "emit": emit(c); break;
    case "close": sockets.get(c.name).close(); break;
    default: report({ ev: "bad_command", cmd: c.cmd });
  }
}).on("close", () => process.exit(0));
