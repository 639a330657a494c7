// home.js — the home page: who you are, creating a party, the list of parties.
import { api, clearIdentity, el, formatTime, identityFromForm, loadIdentity, saveIdentity } from "./identity.js";

const $ = (id) => document.getElementById(id);
let me = await loadIdentity();

function show() {
  $("identity").hidden = !!me;
  $("app").hidden = !me;
  $("whoami").hidden = !me;
  if (!me) {
    $("name").focus();
    return;
  }
  $("whoami-name").textContent = me.name || me.user;
  refresh();
}

$("identity-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = $("name").value.trim();
  if (!name && !$("token").value.trim()) return;
  me = identityFromForm(name, $("token").value);
  saveIdentity(me);
  show();
});

$("sign-out").addEventListener("click", () => {
  clearIdentity();
  me = null;
  show();
});

// --- create ---

$("video").value = location.origin + "/media/sample.webm";
for (const r of document.querySelectorAll("input[name=when]")) {
  r.addEventListener("change", () => {
    const later = document.querySelector("input[name=when]:checked").value === "later";
    $("start").disabled = !later;
    if (later && !$("start").value) $("start").value = localInput(new Date(Date.now() + 15 * 60000));
  });
}

function localInput(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

$("create-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const err = $("create-error");
  err.hidden = true;
  const later = document.querySelector("input[name=when]:checked").value === "later";
  const start = later ? new Date($("start").value) : new Date();
  if (isNaN(start)) {
    err.textContent = "Pick a start time.";
    err.hidden = false;
    return;
  }
  const end = new Date(start.getTime() + Number($("duration").value) * 60000);
  const button = e.submitter || $("create-form").querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const p = await api(me, "POST", "/api/parties", {
      title: $("title").value, video_url: $("video").value.trim(),
      start_time: start.toISOString(), end_time: end.toISOString(), control: $("control").value,
    });
    const link = location.origin + "/p/" + p.id;
    $("created-link").value = link;
    $("created-open").href = "/p/" + p.id;
    $("created").hidden = false;
    $("created-open").focus();
    refresh();
  } catch (ex) {
    err.textContent = "Could not create the party: " + ex.message;
    err.hidden = false;
  } finally {
    button.disabled = false;
  }
});

$("copy-created").addEventListener("click", () => copy($("created-link")));

function copy(input) {
  input.select();
  if (navigator.clipboard) navigator.clipboard.writeText(input.value).catch(() => document.execCommand("copy"));
  else document.execCommand("copy");
}

// --- list ---

async function refresh() {
  if (!me) return;
  const err = $("list-error");
  try {
    const [ongoing, upcoming] = await Promise.all([
      api(me, "GET", "/api/parties?status=ONGOING"),
      api(me, "GET", "/api/parties?status=SCHEDULED"),
    ]);
    render($("ongoing"), ongoing.parties, (p) => `hosted by ${p.host_user_id} · ${p.viewers} watching · ${p.likes} likes`,
      "Nothing live right now.");
    const soon = upcoming.parties.slice().sort((a, b) => new Date(a.start_time) - new Date(b.start_time));
    render($("upcoming"), soon, (p) => `hosted by ${p.host_user_id} · starts ${startsAt(p.start_time)}`,
      "Nothing scheduled.");
    err.hidden = true;
  } catch (ex) {
    err.textContent = "Could not load parties: " + ex.message;
    err.hidden = false;
  }
}

function startsAt(iso) {
  const d = new Date(iso);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay ? "at " + formatTime(iso) : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function render(list, parties, meta, empty) {
  list.replaceChildren();
  if (!parties.length) {
    list.append(el("li", { class: "empty", text: empty }));
    return;
  }
  for (const p of parties) {
    list.append(el("li", {}, el("a", { href: "/p/" + p.id, text: p.title }), el("div", { class: "meta", text: meta(p) })));
  }
}

$("refresh").addEventListener("click", refresh);
setInterval(refresh, 15000);
show();
