// identity.js — who this browser is (a dev-auth name or a token) and calls to the REST API.

const KEY = "watchparty.identity";

// loadIdentity resolves to {user, name} (dev auth) or {token, name}, or null. A ?token= in the
// page's address is removed from the address bar and taken; but a link can carry anyone's token,
// so when another user's identity is stored the viewer is asked first, and the stored one stays
// unless they choose the link's.
export async function loadIdentity() {
  const token = takeToken();
  const stored = storedIdentity();
  if (!token) return stored;
  const offered = { token, name: tokenName(token) };
  if (stored && !sameUser(stored, offered) && !(await askToSwitch(stored, offered))) return stored;
  saveIdentity(offered);
  return offered;
}

// takeToken returns the page address's ?token= ("" without one) and removes it from the address.
function takeToken() {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (!token) return "";
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  return token;
}

function storedIdentity() {
  try {
    const id = JSON.parse(localStorage.getItem(KEY) || "null");
    if (id && (id.token || id.user)) return id;
  } catch { /* unreadable: ask again */ }
  return null;
}

// sameUser says whether two identities are the same user (a renewed token, say). A token's
// subject is read unverified: the server refuses a forged token of the stored user, so at worst
// it signs that user out, never in as someone else.
function sameUser(a, b) {
  const subject = (id) => id.user || tokenClaims(id.token).sub;
  return !!subject(a) && subject(a) === subject(b);
}

// askToSwitch shows a prompt over the page and resolves to true when the viewer chooses the
// offered identity, false when they keep the stored one (also on Escape).
function askToSwitch(stored, offered) {
  return new Promise((resolve) => {
    const storedName = stored.name || stored.user;
    const keep = el("button", { type: "button", id: "identity-keep", class: "primary", text: "Stay signed in as " + storedName });
    const take = el("button", { type: "button", id: "identity-switch", class: "secondary", text: "Continue as " + offered.name });
    const dialog = el("dialog", { id: "identity-prompt", class: "card narrow stack", style: "color: inherit",
      "aria-labelledby": "identity-prompt-title" },
      el("h2", { id: "identity-prompt-title", text: "Switch to another identity?" }),
      el("p", { text: `You are signed in as ${storedName}. The link you opened signs you in as ${offered.name}: ` +
        "switch only if you expected that, since everything you do would be done as them." }),
      keep, take);
    const answer = (yes) => { dialog.close(); dialog.remove(); resolve(yes); };
    keep.addEventListener("click", () => answer(false));
    take.addEventListener("click", () => answer(true));
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); answer(false); });
    document.body.append(dialog);
    dialog.showModal();
    keep.focus();
  });
}

// identityFromForm turns a name (and optional token) into an identity. With dev auth the name is
// also the user id.
export function identityFromForm(name, token) {
  name = name.trim();
  token = (token || "").trim();
  if (token) return { token, name: name || tokenName(token) };
  return { user: name, name };
}

export function saveIdentity(id) { localStorage.setItem(KEY, JSON.stringify(id)); }
export function clearIdentity() { localStorage.removeItem(KEY); }

// tokenName reads the name or subject of a JWT.
function tokenName(token) {
  const claims = tokenClaims(token);
  return claims.name || claims.sub || "you";
}

// tokenClaims reads a JWT's claims without verifying them (the server does that); {} when unreadable.
function tokenClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part)) || {};
  } catch {
    return {};
  }
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// api calls the gateway's REST API as id and returns the decoded body, or throws ApiError.
export async function api(id, method, path, body) {
  const url = new URL(path, location.origin);
  const headers = {};
  if (id.token) headers.Authorization = "Bearer " + id.token;
  else {
    url.searchParams.set("user", id.user);
    if (id.name) url.searchParams.set("name", id.name);
  }
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, "network", "The server cannot be reached. Check your connection and try again.");
  }
  let data = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code || "http_" + res.status, e.message || res.statusText);
  }
  return data;
}

// formatTime is a local clock time, with seconds when asked.
export function formatTime(iso, seconds) {
  const d = new Date(iso);
  if (isNaN(d)) return "";
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: seconds ? "2-digit" : undefined });
}

// el builds an element whose children are elements or text (never parsed as HTML).
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
