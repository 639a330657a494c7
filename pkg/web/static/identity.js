// identity.js — who this browser is (a dev-auth name or a token) and calls to the REST API.

const KEY = "watchparty.identity";

// loadIdentity returns {user, name} (dev auth) or {token, name}, or null. A ?token= in the page's
// address is taken, stored and removed from the address bar.
export function loadIdentity() {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (token) {
    saveIdentity({ token, name: tokenName(token) });
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  }
  try {
    const id = JSON.parse(localStorage.getItem(KEY) || "null");
    if (id && (id.token || id.user)) return id;
  } catch { /* unreadable: ask again */ }
  return null;
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

// tokenName reads (without verifying: the server does that) the name or subject of a JWT.
function tokenName(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part));
    return claims.name || claims.sub || "you";
  } catch {
    return "you";
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
