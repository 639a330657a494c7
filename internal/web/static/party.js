// party.js — the party page: the synchronised video, chat, likes, reactions, viewers and the countdown.
import { CLOSE_REASONS, CODES, WatchPartyClient } from "./watchparty.js";
import { api, el, formatTime, identityFromForm, loadIdentity, saveIdentity } from "./identity.js";
import { Moderation } from "./moderation.js";

// Playback synchronisation, after Syncplay and Jellyfin SyncPlay: every viewer (the host too)
// follows one model of the party's playback, {playing, position at a moment}, taken from the
// welcome and from each play/pause/seek event. Every TICK_MS the player's drift from the model is
// corrected:
//   playing, |drift| < SETTLED_S      playbackRate back to 1
//   playing, NUDGE_S ≤ |drift| < SEEK_S   playbackRate = 1 − drift/CORRECT_S, within [0.9, 1.1]
//                                      (a drift of 0.5 s is absorbed in about 5 s, unnoticed)
//   playing, |drift| ≥ SEEK_S         seek to the model's position
//   paused,  |drift| > EVENT_SEEK_S   seek to the paused position
// and on a new play/pause/seek event a drift above EVENT_SEEK_S is seeked away at once.
export const SYNC = {
  TICK_MS: 250, SETTLED_S: 0.04, NUDGE_S: 0.1, SEEK_S: 1.0, EVENT_SEEK_S: 0.25, CORRECT_S: 2, MAX_RATE_CHANGE: 0.1,
  // A move on the player further than this from the model is the viewer's own seek.
  USER_SEEK_S: 0.5,
};

const $ = (id) => document.getElementById(id);
const partyId = decodeURIComponent(location.pathname.split("/")[2] || "");
const video = $("video");
let me = await loadIdentity();
let party = null;
let client = null;
let myUserId = null;
let canControl = false;
let ended = false;
let mod = null; // the moderation controls, once connected
// The model's position posS is the party's at the server's time atMs (Unix ms).
let model = { playing: false, posS: 0, atMs: 0 };
const msgByClientId = new Map();

// --- start-up ---

function start() {
  if (!me) {
    $("identity").hidden = false;
    $("name").focus();
    return;
  }
  $("identity").hidden = true;
  myUserId = me.user || null;
  loadParty();
}

$("identity-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = $("name").value.trim();
  if (!name) return;
  me = identityFromForm(name);
  saveIdentity(me);
  start();
});

let pollTimer = null;
async function loadParty() {
  try {
    party = await api(me, "GET", "/api/parties/" + encodeURIComponent(partyId));
  } catch (ex) {
    if (ex.status === 404) return banner("This party does not exist. Check the link.");
    if (ex.status === 401) return banner("You are not signed in: " + ex.message);
    setConn("waiting", "Cannot reach the server; retrying…");
    pollTimer = setTimeout(loadParty, 5000);
    return;
  }
  showParty();
  switch (party.status) {
    case "ONGOING": return connect();
    case "SCHEDULED": return countdown();
    case "CANCELLED": return banner("This party was cancelled.");
    default: return endParty("This party has ended.");
  }
}

function showParty() {
  $("room").hidden = false;
  document.title = party.title + " · watchparty";
  $("party-title").textContent = party.title;
  $("share-link").value = location.origin + "/p/" + party.id;
  $("likes").textContent = party.likes;
  $("viewers").textContent = party.viewers;
  const isHost = myUserId !== null && myUserId === party.host_user_id;
  canControl = party.control === "everyone" || isHost;
  $("party-meta").textContent = `Hosted by ${party.host_user_id} · ` +
    (party.status === "SCHEDULED" ? "starts " : "started ") + formatTime(party.started_at || party.start_time);
  $("control-note").textContent = canControl
    ? "You control playback: play, pause and seek on the player and everyone follows."
    : `Playback follows the host (${party.host_user_id}).`;
  $("end").hidden = !isHost;
  video.controls = true;
  if (!videoSet) setVideo(party.video_url);
}

// setVideo loads the party's video. The page may load media from its own origin and from the
// origins the operator allows (WATCH_PARTY_MEDIA_ORIGINS, which the gateway puts in the page's
// policy and in its watchparty-media-origins meta); the sample video is served by every gateway,
// so a link to it on another gateway's address is used here. An HLS playlist (.m3u8) plays
// natively where the browser can (Safari), and otherwise through hls.js, loaded only then.
let videoSet = false;
let hls = null;
async function setVideo(raw) {
  videoSet = true;
  let u;
  try { u = new URL(raw, location.origin); } catch { return note("The party's video address is not valid."); }
  const allowed = (document.querySelector('meta[name="watchparty-media-origins"]')?.content || "").split(" ").filter(Boolean);
  if (u.origin !== location.origin && !allowed.includes(u.origin)) {
    if (u.pathname === "/media/sample.webm") u = new URL(u.pathname, location.origin);
    else return note("This party's video is on another site, which this page does not load. Ask the host for a video served by this site.");
  }
  if (!/\.m3u8$/i.test(u.pathname) || video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = u.href;
    return;
  }
  let Hls;
  try {
    ({ default: Hls } = await import("/static/vendor/hls.min.mjs"));
  } catch {
    return note("The player for this party's video (HLS) could not be loaded. Reload the page to try again.");
  }
  if (!Hls.isSupported()) return note("This browser cannot play this party's video (HLS).");
  // No worker: the page's policy allows no blob: scripts, and the main thread copes.
  hls = new Hls({ enableWorker: false });
  hls.on(Hls.Events.ERROR, (_, d) => {
    if (d.fatal) note(`The party's video cannot be played (${d.type}: ${d.details}).`);
  });
  hls.loadSource(u.href);
  hls.attachMedia(video);
}

function note(text) { $("control-note").textContent = text; }

function countdown() {
  const box = $("countdown");
  box.hidden = false;
  const startAt = new Date(party.start_time).getTime();
  const tick = () => {
    const left = Math.round((startAt - Date.now()) / 1000);
    box.replaceChildren(
      document.createTextNode(left > 0 ? "The party starts in" : "The party is starting…"),
      el("strong", { text: left > 0 ? clock(left) : "any moment now" }));
  };
  tick();
  const ticker = setInterval(tick, 1000);
  setConn("waiting", "Waiting for the start");
  const poll = async () => {
    try {
      const p = await api(me, "GET", "/api/parties/" + encodeURIComponent(partyId));
      party = p;
      if (p.status === "ONGOING") {
        clearInterval(ticker);
        box.hidden = true;
        showParty();
        return connect();
      }
      if (p.status !== "SCHEDULED") {
        clearInterval(ticker);
        box.hidden = true;
        return p.status === "CANCELLED" ? banner("This party was cancelled.") : endParty("This party has ended.");
      }
    } catch { /* keep polling */ }
    // Near the start, often; otherwise every 15 s.
    pollTimer = setTimeout(poll, startAt - Date.now() < 30000 ? 2000 : 15000);
  };
  poll();
}

function clock(s) {
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const p = (n) => String(n).padStart(2, "0");
  return (h ? h + ":" + p(m) : String(m)) + ":" + p(sec);
}

// --- connection ---

function connect() {
  const opts = { partyId, name: me.name, partyStatus };
  if (me.token) opts.token = me.token;
  else opts.user = me.user;
  client = new WatchPartyClient(opts);
  mod = new Moderation({ me, partyId, hostUserId: party.host_user_id,
    send: (type, fields) => client.moderate(type, fields), say: system });
  client.addEventListener("state", (e) => onState(e.detail));
  client.addEventListener("welcome", (e) => onWelcome(e.detail.frame));
  client.addEventListener("event", (e) => onEvent(e.detail.frame, e.detail.own));
  client.addEventListener("viewers", (e) => { $("viewers").textContent = e.detail.count; });
  client.addEventListener("ack", (e) => onAck(e.detail.id));
  client.addEventListener("reject", (e) => onReject(e.detail));
  client.addEventListener("failure", (e) => onFailure(e.detail));
  client.addEventListener("ended", () => endParty("The party has ended. Thanks for watching!"));
  // A first or better clock estimate may move the model's position: follow at once.
  client.addEventListener("clock", (e) => {
    const { offsetMs, rttMs } = e.detail;
    const c = $("conn");
    c.dataset.clockOffsetMs = offsetMs;
    c.title = `This device's clock is ${Math.abs(offsetMs) / 1000} s ${offsetMs > 0 ? "behind" : "ahead of"} the server's ` +
      `(measured with a round trip of ${rttMs} ms); playback follows the server's.`;
    applyPlayback(true);
  });
  client.connect();
  setInterval(() => applyPlayback(false), SYNC.TICK_MS);
}

async function partyStatus() {
  try {
    return (await api(me, "GET", "/api/parties/" + encodeURIComponent(partyId))).status;
  } catch (ex) {
    if (ex.status === 404) return "NOT_FOUND";
    throw ex;
  }
}

function onState({ state, retryInMs, reason }) {
  const text = {
    connecting: "Connecting…",
    open: "Live",
    reconnecting: retryInMs ? `Connection lost · retrying in ${Math.ceil(retryInMs / 1000)} s` : "Reconnecting…",
    expired: "Signed out",
    removed: "Removed",
    ended: "Party over",
    closed: "Disconnected",
  }[state] || state;
  setConn(state, text);
  if (state === "expired") banner("Your sign-in has expired. Go back to the home page and sign in again.");
  if (state === "removed") {
    banner(reason === CLOSE_REASONS.BANNED ? "You were banned from this party by its host or a moderator."
      : "You were removed from this party by its host or a moderator. You may join again.");
    $("chat-input").disabled = true;
    $("chat-send").disabled = true;
    $("like").disabled = true;
    setReactions(false);
    $("mod-panel").hidden = true;
    for (const d of document.querySelectorAll(".mod-actions")) d.remove();
    $("rejoin").hidden = false;
  }
}

// After a kick, or a ban the host lifted, the viewer may come back.
$("rejoin").addEventListener("click", () => location.reload());

function setConn(state, text) {
  const c = $("conn");
  c.dataset.state = state;
  c.textContent = text;
}

function onWelcome(f) {
  myUserId = f.user_id;
  const isHost = myUserId === party.host_user_id;
  canControl = party.control === "everyone" || isHost;
  $("end").hidden = !isHost;
  $("viewers").textContent = f.viewers;
  $("likes").textContent = f.likes;
  $("chat-input").disabled = false;
  $("chat-send").disabled = false;
  $("like").disabled = false;
  setReactions(true);
  mod.setUser(myUserId, f.role);
  if (f.resumed === false) system("Some earlier messages are no longer available.");
  // A new viewer's welcome carries the party's last chats.
  if (f.history && !$("messages").children.length) for (const h of f.history) onChat(h, null);
  // A resume replays the events missed, which set the model; a fresh join takes the snapshot.
  if (f.resumed === undefined || f.resumed === false) {
    const pb = f.playback || {};
    setModel(pb.state === "playing", (pb.position_ms || 0) / 1000, pb.updated_at);
    applyPlayback(true);
  }
}

// --- playback ---

// setModel records the party's playback: posS at the server's time ts (of the event, or of the
// welcome's playback), or now for the viewer's own action. A playing position is aged by the
// server's clock as the client measures it (serverNow, from ping/pong), never by the browser's
// own clock, which may be seconds off: a late joiner's welcome may be seconds after the play,
// and events replayed after a reconnect are older still. Until the first pong the browser's
// clock stands in; a better estimate moves the model by itself, as it is kept in server time.
function setModel(playing, posS, ts) {
  const now = serverNow();
  let atMs = ts ? Date.parse(ts) : now;
  // An unreadable time, or one a day away: take the position as of now.
  if (!isFinite(atMs) || Math.abs(now - atMs) > 24 * 3600 * 1000) atMs = now;
  model = { playing, posS, atMs };
}

function serverNow() { return client ? client.serverNow() : Date.now(); }

function modelPosition() {
  // A time a moment ahead (an estimate not yet settled) counts as no age.
  let p = model.posS + (model.playing ? Math.max(0, serverNow() - model.atMs) / 1000 : 0);
  if (isFinite(video.duration)) p = Math.min(p, video.duration);
  return p;
}

function applyPlayback(fromEvent) {
  // A seek in progress is the viewer's or ours: leave it to land.
  if (!client || ended || video.readyState < 1 || video.seeking) return;
  // The player's "play"/"pause" event is dispatched a moment after the viewer's action; until it
  // is handled, a viewer with control is not put back to the model's state by the timer.
  if (!fromEvent && canControl && video.paused === model.playing && !video.ended) return;
  const want = modelPosition();
  const drift = video.currentTime - want;
  const abs = Math.abs(drift);
  if (!model.playing) {
    if (!video.paused) video.pause();
    video.playbackRate = 1;
    if (abs > SYNC.EVENT_SEEK_S) video.currentTime = want;
    return;
  }
  if (isFinite(video.duration) && want >= video.duration - 0.05) {
    if (!video.ended && abs > SYNC.EVENT_SEEK_S) video.currentTime = video.duration;
    return;
  }
  if (abs >= SYNC.SEEK_S || (fromEvent && abs > SYNC.EVENT_SEEK_S)) {
    video.currentTime = want;
    video.playbackRate = 1;
  } else if (abs >= SYNC.NUDGE_S) {
    const r = 1 - drift / SYNC.CORRECT_S;
    video.playbackRate = Math.min(1 + SYNC.MAX_RATE_CHANGE, Math.max(1 - SYNC.MAX_RATE_CHANGE, r));
  } else if (abs < SYNC.SETTLED_S) {
    video.playbackRate = 1;
  }
  if (video.paused) playVideo();
}

function playVideo() {
  video.play().catch((err) => {
    if (err.name !== "NotAllowedError" || video.muted) return;
    // Browsers let a page start muted video without a click; offer the sound back.
    video.muted = true;
    $("unmute").hidden = false;
    video.play().catch(() => {});
  });
}

$("unmute").addEventListener("click", () => {
  video.muted = false;
  $("unmute").hidden = true;
});

// The viewer's own actions on the player: with control they become the party's events; without,
// the player is put back and the viewer told why.
video.addEventListener("play", () => {
  if (!client || ended || model.playing) return;
  if (!canControl) return refuse(() => video.pause());
  const pos = video.currentTime;
  setModel(true, pos);
  client.play(pos * 1000);
});

video.addEventListener("pause", () => {
  if (!client || ended || !model.playing || video.ended) return;
  if (!canControl) return refuse(() => playVideo());
  const pos = video.currentTime;
  setModel(false, pos);
  client.pause(pos * 1000);
});

// "seeking" (not "seeked"): the position is the new one already, and the model moves before the
// timer could take the seek for drift and undo it. Our own seeks go to the model's position.
video.addEventListener("seeking", () => {
  if (!client || ended) return;
  const pos = video.currentTime;
  if (Math.abs(pos - modelPosition()) < SYNC.USER_SEEK_S) return;
  if (!canControl) return refuse(() => { video.currentTime = modelPosition(); });
  setModel(model.playing, pos);
  client.seek(pos * 1000);
});

video.addEventListener("loadedmetadata", () => applyPlayback(true));

function refuse(undo) {
  undo();
  note(`Only the host (${party.host_user_id}) controls playback; your player follows theirs.`);
}

function onEvent(f, own) {
  if (mod && f.target_user_id !== undefined) mod.onEvent(f);
  switch (f.type) {
    case "chat": return onChat(f, own);
    case "reaction": return floatReaction(f.emoji);
    case "delete": {
      const li = document.querySelector(`#messages li[data-event-id="${CSS.escape(f.target_event_id)}"]`);
      if (li) li.remove();
      return;
    }
    case "mute": return system(`${f.target_user_id} is muted until ${formatTime(f.until, false)}.`);
    case "unmute": return system(`${f.target_user_id} may chat again.`);
    case "unban": return system(`${f.target_user_id} may join again.`);
    case "moderator_add": return system(`${f.target_user_id} is now a moderator.`);
    case "moderator_remove": return system(`${f.target_user_id} is no longer a moderator.`);
    case "kick": return system(`${f.target_user_id} was removed from the party.`);
    case "ban": return system(`${f.target_user_id} was banned from the party.`);
    case "like":
      $("likes").textContent = f.likes;
      if (own || f.user_id === myUserId) $("like").setAttribute("aria-pressed", "true");
      return;
    case "play":
    case "pause":
    case "seek": {
      if (own) return; // the model already moved when the viewer acted
      const playing = f.type === "seek" ? model.playing : f.type === "play";
      setModel(playing, f.position_ms / 1000, f.ts);
      applyPlayback(true);
    }
  }
}

// --- chat ---

$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("chat-input");
  const text = input.value;
  if (!text.trim() || !client || ended) return;
  const id = client.chat(text);
  const li = message({ name: me.name || me.user, ts: new Date().toISOString(), text, mine: true });
  li.dataset.userId = myUserId;
  li.classList.add("pending");
  setNote(li, "sending…");
  msgByClientId.set(id, li);
  input.value = "";
  input.focus();
});

function message({ name, ts, text, mine }) {
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const li = el("li", { class: "msg" + (mine ? " mine" : "") },
    el("span", { class: "when", text: formatTime(ts, true) }),
    el("span", { class: "who", text: name }),
    el("span", { class: "text", text }));
  list.append(li);
  if (atBottom || mine) li.scrollIntoView({ block: "end" });
  return li;
}

function system(text, cls) {
  const li = el("li", { class: "msg system" + (cls ? " " + cls : ""), text });
  $("messages").append(li);
}

function setNote(li, text) {
  let n = li.querySelector(".note");
  if (!text) return n && n.remove();
  if (!n) li.append((n = el("span", { class: "note" })));
  n.textContent = text;
}

function onChat(f, own) {
  const name = f.name || f.user_id;
  const li = own && msgByClientId.get(own);
  if (li) {
    li.dataset.eventId = f.event_id;
    li.dataset.name = name;
    li.querySelector(".when").textContent = formatTime(f.ts, true);
    if (mod) mod.decorate(li);
    return;
  }
  const m = message({ name, ts: f.ts, text: f.text, mine: f.user_id === myUserId });
  Object.assign(m.dataset, { eventId: f.event_id, userId: f.user_id, name });
  if (mod) mod.decorate(m);
}

function onAck(id) {
  const li = msgByClientId.get(id);
  if (li) {
    li.classList.remove("pending");
    setNote(li, "");
    if (msgByClientId.size > 500) msgByClientId.delete(msgByClientId.keys().next().value);
  }
}

const REASONS = {
  [CODES.RATE_LIMITED]: "Not sent: you are sending too fast. Wait a moment and try again.",
  [CODES.FORBIDDEN]: "Not allowed.",
  [CODES.INVALID_MESSAGE]: "Not sent: the message was refused",
  [CODES.PARTY_ENDED]: "Not sent: the party has ended.",
  [CODES.MUTED]: "Not sent: you are muted in this party",
};

function onReject({ id, code, message: msg, sent }) {
  if (mod && mod.refused(id, code, msg)) return;
  const li = msgByClientId.get(id);
  const reason = REASONS[code] || `Not sent (${code})`;
  if (li) {
    li.classList.remove("pending");
    li.classList.add("failed");
    setNote(li, code === CODES.INVALID_MESSAGE || code === CODES.MUTED ? `${reason}: ${msg}` : reason);
    return;
  }
  if (sent.type === "like") {
    system(code === CODES.RATE_LIMITED ? "Slow down: too many likes at once." : `Like not counted (${code}).`);
    return;
  }
  // Not in the chat, which a burst of refusals would flood: a moment under the player.
  if (sent.type === "reaction") {
    flash(code === CODES.RATE_LIMITED ? "Slow down: too many reactions at once." : `Reaction not sent: ${msg || code}.`);
    return;
  }
  note(code === CODES.FORBIDDEN ? `Only the host (${party.host_user_id}) controls playback.` : `${reason} ${msg || ""}`);
}

function onFailure({ code, message: msg, id, retrying }) {
  const li = id && msgByClientId.get(id);
  if (li && retrying) return setNote(li, "the server is busy; retrying…");
  system(`Server: ${msg || code}`);
}

// --- likes, end, share ---

$("like").addEventListener("click", () => {
  if (!client || ended) return;
  client.like();
  $("like").setAttribute("aria-pressed", "true");
});

// --- reactions ---

// Every reaction, the viewer's own included, floats up over the video once its broadcast arrives
// and is removed when its animation ends. At most MAX_FLOATING are on screen: past that a new one
// is dropped, so a burst costs no more than that many elements.
const MAX_FLOATING = 40;

for (const b of $("reactions").querySelectorAll("button")) {
  b.addEventListener("click", () => {
    if (!client || ended) return;
    client.react(b.dataset.emoji);
  });
}

function setReactions(enabled) {
  for (const b of $("reactions").querySelectorAll("button")) b.disabled = !enabled;
}

function floatReaction(emoji) {
  const layer = $("reaction-layer");
  if (layer.childElementCount >= MAX_FLOATING) return;
  const e = el("span", { class: "float", text: emoji });
  e.style.left = 5 + Math.random() * 85 + "%";
  // A cancelled animation (the player hidden) ends it too, or it would hold its place for good.
  for (const t of ["animationend", "animationcancel"]) e.addEventListener(t, () => e.remove());
  layer.append(e);
}

// flash shows text under the player for a few seconds, then what was there before.
let flashTimer = null;
let flashBefore = "";
function flash(text) {
  if (flashTimer === null) flashBefore = $("control-note").textContent;
  clearTimeout(flashTimer);
  note(text);
  flashTimer = setTimeout(() => {
    flashTimer = null;
    if ($("control-note").textContent === text) note(flashBefore);
  }, 3000);
}

let endArmed = false;
$("end").addEventListener("click", async () => {
  const b = $("end");
  if (!endArmed) {
    endArmed = true;
    b.textContent = "Click again to end for everyone";
    setTimeout(() => { endArmed = false; b.textContent = "End party"; }, 4000);
    return;
  }
  b.disabled = true;
  b.textContent = "Ending…";
  try {
    await api(me, "POST", `/api/parties/${encodeURIComponent(partyId)}/end`);
  } catch (ex) {
    b.disabled = false;
    b.textContent = "End party";
    note("Could not end the party: " + ex.message);
  }
});

$("copy").addEventListener("click", () => {
  const input = $("share-link");
  input.select();
  if (navigator.clipboard) navigator.clipboard.writeText(input.value).catch(() => {});
  $("copy").textContent = "Copied";
  setTimeout(() => { $("copy").textContent = "Copy link"; }, 2000);
});

function banner(text) {
  const b = $("banner");
  b.textContent = text;
  b.hidden = false;
}

function endParty(text) {
  ended = true;
  clearTimeout(pollTimer);
  banner(text);
  setConn("ended", "Party over");
  video.pause();
  $("viewers").textContent = "0"; // nobody is watching an ended party
  for (const id of ["chat-input", "chat-send", "like", "end"]) $(id).disabled = true;
  setReactions(false);
  $("end").hidden = true;
}

// Leaving the page closes the connection at once, so the viewer count drops now rather than
// when the socket times out; a page restored from the back/forward cache starts afresh.
window.addEventListener("pagehide", () => { if (client && !ended) client.close(); });
window.addEventListener("pageshow", (e) => { if (e.persisted) location.reload(); });

start();
