// watchparty.js — a small browser client for the watchparty WebSocket protocol
// (SPEC §5). No dependencies; an ES module that any frontend can import.
//
//   import { WatchPartyClient } from "/static/watchparty.js";
//   const wp = new WatchPartyClient({ partyId, user: "bob", name: "Bob" }); // or { token }
//   wp.addEventListener("event", (e) => console.log(e.detail.frame));     // chat, like, play, …
//   wp.addEventListener("state", (e) => console.log(e.detail.state));
//   wp.connect();
//   const id = wp.chat("hello");  // pending until its "ack"; resent with the same id after a reconnect
//   wp.react("🎉");  // a reaction, sent and resent like a chat: 👍 ❤️ 😂 😮 😢 👏 🔥 🎉 (others are refused)
//
// Events (CustomEvent, data in e.detail):
//   state    {state, attempt, retryInMs, closeCode, reason}  state: connecting | open | reconnecting |
//            expired (token expired: give a new token and call connect) | removed (kicked or banned
//            by the host or a moderator: reason says which; the client stops) | ended | closed
//   welcome  {frame}                  every (re)connection; frame.resumed says whether a resume was complete
//   event    {frame, own}             chat/like/reaction/play/pause/seek and moderation (delete: hide the chat
//                                     frame.target_event_id; mute, kick, ban, …), each once, in stream
//                                     order; own is the client id when the frame is this client's own
//                                     event, else null
//   viewers  {count}
//   ack      {id, frame}              a sent message is stored (frame.event_id, frame.stream_id)
//   reject   {id, code, message, sent} a sent message was refused (rate_limited, forbidden, muted,
//                                     invalid_message, party_ended) and will not be resent
//   failure  {code, message}          an error frame that answers no pending message
//   ended    {}                       the party ended; the client stops
//   clock    {offsetMs, rttMs}        a better estimate of the server's clock (see Clock below)
//
// Reconnection: after any close other than the party's end, a token expiry or close(), the client
// reconnects with exponential backoff and jitter (delay drawn from [base/2, base], base doubling
// from minBackoffMs to maxBackoffMs, reset by a welcome), and resumes with since=<last stream_id
// seen>, so the server replays what was missed; frames already seen are dropped (by event_id and
// stream order). Messages not yet acked are sent again with the same id (the server stores an id
// once). "unavailable" answers are retried after unavailableRetryMs.
//
// Clock: playback frames carry the server's time (ts, updated_at), and the browser's own clock may
// be seconds off. After every welcome the client sends CLOCK.BURST pings one after the other, then
// one every CLOCK.EVERY_MS, and from each pong (docs/protocol.md, "Clock") takes a sample of the
// server's clock against performance.now() (monotonic, unaffected by changes to the system clock),
// NTP-style: offset = server_time − (sent + received) / 2. The sample with the smallest round trip
// among the last CLOCK.KEEP is the estimate. serverNow() is the server's time now by that estimate
// (Date.now() until the first pong); clockOffsetMs is how far the server's clock is ahead of
// Date.now(), rttMs the round trip of the sample used.
//
// Several gateways: pass urls: ["wss://a.example", "wss://b.example"] and each new attempt after a
// failed one moves to the next; the usual deployment puts one origin (a load balancer) in front of
// the gateways instead, which is the default: the page's own origin.

// The protocol's wire values this client compares against, as the server declares them in
// internal/protocol (its tests read these objects, one `KEY: value` per entry, and fail when an entry
// is not declared there under the same name and value). Use them instead of bare literals.
export const CODES = Object.freeze({
  INVALID_MESSAGE: "invalid_message",
  FORBIDDEN: "forbidden",
  RATE_LIMITED: "rate_limited",
  PARTY_ENDED: "party_ended",
  MUTED: "muted",
  BANNED: "banned",
  UNAVAILABLE: "unavailable",
});
export const CLOSE = Object.freeze({
  NORMAL: 1000,
  POLICY: 1008,
  REMOVED: 4003,
});
export const CLOSE_REASONS = Object.freeze({
  PARTY_ENDED: "party ended",
  KICKED: "kicked",
  BANNED: "banned",
});
export const FRAMES = Object.freeze({
  WELCOME: "welcome",
  ACK: "ack",
  ERROR: "error",
  PONG: "pong",
  PARTY_ENDED: "party_ended",
  PING: "ping",
});

const PLAYBACK = new Set(["play", "pause", "seek"]);
const MODERATION = new Set(["delete", "mute", "unmute", "kick", "ban", "unban", "moderator_add", "moderator_remove"]);
const BROADCAST = new Set(["chat", "like", "reaction", "play", "pause", "seek", ...MODERATION]);
const SEEN_LIMIT = 5000;
export const CLOCK = { BURST: 5, EVERY_MS: 15000, KEEP: 8, TIMEOUT_MS: 3000 };

// compareStreamIds orders Redis stream ids ("<ms>-<seq>"): negative, zero or positive.
export function compareStreamIds(a, b) {
  const [am, as] = String(a).split("-").map(Number);
  const [bm, bs] = String(b).split("-").map(Number);
  return am !== bm ? am - bm : (as || 0) - (bs || 0);
}

function randomId() {
  const b = new Uint8Array(9);
  crypto.getRandomValues(b);
  return "m" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function sameOriginWs() {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
}

export class WatchPartyClient extends EventTarget {
  // options: partyId (required); token, or user (+ name) with dev auth; urls (WebSocket bases,
  // default the page's origin); since (resume from a stream id); minBackoffMs (500);
  // maxBackoffMs (15000); unavailableRetryMs (1000); partyStatus: optional async () => status
  // ("ONGOING", "FINISHED", …), asked after a connection failed before its welcome so a party
  // that ended or never existed stops the retries.
  constructor(options) {
    super();
    if (!options || !options.partyId) throw new Error("watchparty: partyId is required");
    if (!options.token && !options.user) throw new Error("watchparty: token or user is required");
    this.opts = Object.assign({ minBackoffMs: 500, maxBackoffMs: 15000, unavailableRetryMs: 1000 }, options);
    this.urls = this.opts.urls && this.opts.urls.length ? this.opts.urls.slice() : [sameOriginWs()];
    this.urlIndex = 0;
    this.lastStreamId = this.opts.since || null;
    this.userId = null;
    this.pendingById = new Map(); // id -> {id, frame, eventId}; insertion order is send order
    this.ownByEvent = new Map(); // event_id -> client id, for recently acked messages
    this.seen = new Set();
    this.seenOrder = [];
    this.attempt = 0;
    this.ws = null;
    this.welcomed = false;
    this.timer = null;
    this._state = "idle";
    this.pings = new Map(); // ping id -> performance.now() when sent
    this.pingSeq = 0;
    this.clockSamples = []; // {offset (server ms − performance.now()), rtt}, newest last
    this.clockBest = null;
    this.clockTimer = null;
  }

  get state() { return this._state; }

  // serverNow is the server's clock now, in Unix milliseconds, as measured by pings; Date.now()
  // before the first pong.
  serverNow() {
    return this.clockBest ? performance.now() + this.clockBest.offset : Date.now();
  }

  // clockOffsetMs is the server's clock minus this browser's (Date.now()), or null before the
  // first pong.
  get clockOffsetMs() { return this.clockBest ? Math.round(this.serverNow() - Date.now()) : null; }

  // rttMs is the round trip of the ping the estimate comes from, or null before the first pong.
  get rttMs() { return this.clockBest ? this.clockBest.rtt : null; }

  // connect opens the connection (again after expired, with a new token in options.token).
  connect() {
    if (this._state === "ended") return;
    this.stopped = false;
    clearTimeout(this.timer);
    this._open();
  }

  // close stops the client for good; pending messages stay unsent.
  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.clockTimer);
    if (this.ws) this.ws.close(CLOSE.NORMAL, "bye");
    this._setState("closed");
  }

  // send queues a client frame and returns its id; it goes out now if connected, otherwise after
  // the next welcome.
  send(type, fields) {
    const id = randomId();
    const frame = Object.assign({ type, id }, fields || {});
    this.pendingById.set(id, { id, frame, eventId: null });
    if (this.welcomed) this._write(frame);
    return id;
  }

  chat(text) { return this.send("chat", { text }); }
  like() { return this.send("like"); }
  react(emoji) { return this.send("reaction", { emoji }); }
  play(positionMs) { return this.send("play", { position_ms: Math.max(0, Math.round(positionMs)) }); }
  pause(positionMs) { return this.send("pause", { position_ms: Math.max(0, Math.round(positionMs)) }); }
  seek(positionMs) { return this.send("seek", { position_ms: Math.max(0, Math.round(positionMs)) }); }
  // moderate sends a moderation action (host and moderators): moderate("mute", {target_user_id:
  // "bob", duration_s: 600}), moderate("delete", {target_event_id}), …
  moderate(type, fields) {
    if (!MODERATION.has(type)) throw new Error(`not a moderation action: ${type}`);
    return this.send(type, fields);
  }

  // pending lists the frames sent (or waiting to be sent) and not yet acked, oldest first.
  pending() { return Array.from(this.pendingById.values(), (p) => p.frame); }

  _url() {
    const q = new URLSearchParams();
    if (this.opts.token) q.set("token", this.opts.token);
    else {
      q.set("user", this.opts.user);
      if (this.opts.name) q.set("name", this.opts.name);
    }
    if (this.lastStreamId) q.set("since", this.lastStreamId);
    const base = this.urls[this.urlIndex % this.urls.length].replace(/\/+$/, "");
    return `${base}/ws/parties/${encodeURIComponent(this.opts.partyId)}?${q}`;
  }

  _open() {
    this.welcomed = false;
    this._setState(this.attempt === 0 ? "connecting" : "reconnecting");
    let ws;
    try {
      ws = new WebSocket(this._url());
    } catch (err) {
      this._closed(null, 1006);
      return;
    }
    this.ws = ws;
    ws.onmessage = (m) => { if (this.ws === ws) this._frame(m.data); };
    ws.onclose = (c) => { if (this.ws === ws) this._closed(ws, c.code, c.reason); };
  }

  _write(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  _frame(data) {
    let f;
    try { f = JSON.parse(data); } catch { return; }
    if (!f || typeof f.type !== "string") return;
    switch (f.type) {
      case FRAMES.WELCOME: return this._welcome(f);
      case FRAMES.ACK: return this._ack(f);
      case FRAMES.ERROR: return this._error(f);
      case "viewers": return this._emit("viewers", { count: f.count }); // an event kind (internal/event)
      case FRAMES.PARTY_ENDED: return this._end();
      case FRAMES.PONG: return this._pong(f);
      default:
        if (BROADCAST.has(f.type)) this._broadcast(f);
    }
  }

  _welcome(f) {
    this.welcomed = true;
    this.attempt = 0;
    this.userId = f.user_id;
    // A first connection starts after the stream's last entry; a resume keeps its own position
    // because the missed entries follow this frame.
    if (!this.lastStreamId && f.last_id && f.last_id !== "0-0") this.lastStreamId = f.last_id;
    this._setState("open");
    this._emit("welcome", { frame: f });
    for (const p of this.pendingById.values()) this._write(p.frame);
    this.pings.clear();
    this._ping(CLOCK.BURST);
  }

  // _ping sends a ping, and after its pong (or CLOCK.TIMEOUT_MS) the next of the burst of n, then
  // one every CLOCK.EVERY_MS.
  _ping(n) {
    clearTimeout(this.clockTimer);
    if (this.stopped || !this.welcomed) return;
    const id = "ping-" + ++this.pingSeq;
    this.pings.set(id, { sent: performance.now(), left: n - 1 });
    this._write({ type: FRAMES.PING, id });
    this.clockTimer = setTimeout(() => { this.pings.delete(id); this._ping(n > 1 ? n - 1 : 1); },
      n > 1 ? CLOCK.TIMEOUT_MS : CLOCK.EVERY_MS);
  }

  _pong(f) {
    const p = this.pings.get(f.id);
    if (!p || typeof f.server_time !== "number") return;
    this.pings.delete(f.id);
    const now = performance.now();
    const rtt = now - p.sent;
    this.clockSamples.push({ offset: f.server_time - (p.sent + now) / 2, rtt });
    if (this.clockSamples.length > CLOCK.KEEP) this.clockSamples.shift();
    const best = this.clockSamples.reduce((a, b) => (b.rtt < a.rtt ? b : a));
    const changed = best !== this.clockBest;
    this.clockBest = best;
    if (changed) this._emit("clock", { offsetMs: this.clockOffsetMs, rttMs: Math.round(rtt) });
    if (p.left > 0) this._ping(p.left);
    else {
      clearTimeout(this.clockTimer);
      this.clockTimer = setTimeout(() => this._ping(1), CLOCK.EVERY_MS);
    }
  }

  _ack(f) {
    const p = f.id ? this.pendingById.get(f.id) : null;
    if (!p) return;
    this.pendingById.delete(f.id);
    if (f.event_id) this._remember(this.ownByEvent, f.event_id, f.id);
    this._emit("ack", { id: f.id, frame: f });
  }

  _error(f) {
    if (f.id && this.pings.has(f.id)) return; // a refused ping: the next one is already planned
    const p = f.id ? this.pendingById.get(f.id) : null;
    if (f.code === CODES.PARTY_ENDED) return this._end();
    if (!p) return this._emit("failure", { code: f.code, message: f.message });
    if (f.code === CODES.UNAVAILABLE) {
      // It may or may not be stored: the same id again is safe either way.
      setTimeout(() => { if (this.pendingById.has(p.id) && this.welcomed) this._write(p.frame); },
        this.opts.unavailableRetryMs);
      return this._emit("failure", { code: f.code, message: f.message, id: p.id, retrying: true });
    }
    this.pendingById.delete(p.id);
    this._emit("reject", { id: p.id, code: f.code, message: f.message, sent: p.frame });
  }

  _broadcast(f) {
    if (f.event_id && this.seen.has(f.event_id)) return;
    if (f.stream_id && this.lastStreamId && compareStreamIds(f.stream_id, this.lastStreamId) <= 0) return;
    if (f.event_id) this._remember(null, f.event_id);
    if (f.stream_id) this.lastStreamId = f.stream_id;
    this._emit("event", { frame: f, own: this._own(f) });
  }

  // _own finds which pending or acked message of this client f is: by event_id once acked, else
  // (the broadcast may come before the ack) the oldest unmatched pending message of the same kind.
  _own(f) {
    if (!this.userId || f.user_id !== this.userId) return null;
    if (this.ownByEvent.has(f.event_id)) return this.ownByEvent.get(f.event_id);
    for (const p of this.pendingById.values()) {
      const s = p.frame;
      if (p.eventId || s.type !== f.type) continue;
      if (s.type === "chat" && s.text !== f.text) continue;
      if (s.type === "reaction" && s.emoji !== f.emoji) continue;
      if (PLAYBACK.has(s.type) && s.position_ms !== f.position_ms) continue;
      p.eventId = f.event_id;
      return p.id;
    }
    return null;
  }

  _remember(map, key, value) {
    if (map) {
      map.set(key, value);
      if (map.size > SEEN_LIMIT) map.delete(map.keys().next().value);
      return;
    }
    this.seen.add(key);
    this.seenOrder.push(key);
    if (this.seenOrder.length > SEEN_LIMIT) this.seen.delete(this.seenOrder.shift());
  }

  _end() {
    if (this._state === "ended") return;
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.clockTimer);
    this._setState("ended");
    this._emit("ended", {});
    if (this.ws) this.ws.close(CLOSE.NORMAL, CLOSE_REASONS.PARTY_ENDED);
  }

  async _closed(ws, code, reason) {
    const welcomed = this.welcomed;
    this.welcomed = false;
    this.ws = null;
    clearTimeout(this.clockTimer);
    if (this.stopped) return;
    if (code === CLOSE.POLICY) {
      this._setState("expired", { closeCode: code });
      return;
    }
    if (code === CLOSE.REMOVED) {
      // Kicked or banned: reconnecting by itself would undo a kick or meet a 403.
      this.stopped = true;
      this._setState("removed", { closeCode: code, reason });
      return;
    }
    if (!welcomed) {
      this.urlIndex++;
      if (this.opts.partyStatus) {
        let status = null;
        try { status = await this.opts.partyStatus(); } catch { /* unknown: keep trying */ }
        if (this.stopped) return;
        if (status === "FINISHED" || status === "CANCELLED" || status === "NOT_FOUND") return this._end();
      }
    }
    const base = Math.min(this.opts.maxBackoffMs, this.opts.minBackoffMs * 2 ** this.attempt);
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    this.attempt++;
    this._setState("reconnecting", { retryInMs: delay, closeCode: code });
    this.timer = setTimeout(() => this._open(), delay);
  }

  _setState(state, extra) {
    this._state = state;
    this._emit("state", Object.assign({ state, attempt: this.attempt }, extra || {}));
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
