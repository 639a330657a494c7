// docclient.js is a frontend written from docs/socketio.md alone, with its
// snippets as they are: it connects, reads the welcome, sends a chat with an
// id and an ack callback, and checks that the chat comes back broadcast
// under the event_id of its ack, with its stream_id as the offset argument.
//
//   node docclient.js <gateway URL> <party id> <user>
// prints "ok" and exits 0, or prints what went wrong and exits 1.
"use strict";
const { io } = require("socket.io-client");

const [gateway, partyId, user] = process.argv.slice(2);
const fail = (why) => { console.log("FAIL " + why); process.exit(1); };
setTimeout(() => fail("no answer within 15 s"), 15000);

const socket = io(`${gateway}/parties/${partyId}`, {
  transports: ["websocket"],
  auth: { user }, // dev mode; { token } otherwise
});
socket.on("connect_error", (err) => fail(`connect_error ${err.message} ${JSON.stringify(err.data)}`));

let acked, broadcast;
const done = () => {
  if (!acked || !broadcast) return;
  if (acked !== broadcast) fail(`ack ${acked} but broadcast ${broadcast}`);
  console.log("ok");
  socket.close();
  process.exit(0);
};

socket.on("welcome", (w, offset) => {
  if (offset !== w.last_id) fail(`welcome offset ${offset}, last_id ${w.last_id}`);
  socket.emit("chat", { id: "doc1", text: "hello from the docs" }, (res) => {
    if (res.error) fail(`${res.error.code}: ${res.error.message}`);
    acked = res.event_id;
    done();
  });
});
socket.on("chat", (chat, offset) => {
  if (chat.text !== "hello from the docs") return;
  if (chat.stream_id !== offset) fail(`chat offset ${offset}, stream_id ${chat.stream_id}`);
  broadcast = chat.event_id;
  done();
});
