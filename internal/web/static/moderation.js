// moderation.js — the host's and moderators' controls on the party page: actions on each chat
// message (delete, mute for 10 min or 1 h, kick, ban; the host also appoints and removes
// moderators) and a panel of the party's moderators, bans and mutes (GET …/moderation) with unban,
// unmute and remove. The controls are built only for the host and its moderators; the server
// still decides every action, and a refusal is shown where the action was taken.
import { api, el, formatTime } from "./identity.js";
import { CODES } from "./watchparty.js";

const MUTES = [["Mute 10 min", 600], ["Mute 1 h", 3600]];

export class Moderation {
  // me: the identity for REST calls; partyId; hostUserId; send(type, fields) → client id of the
  // moderation frame sent; say(text): a line in the chat for this viewer only.
  constructor({ me, partyId, hostUserId, send, say }) {
    Object.assign(this, { me, partyId, hostUserId, send, say });
    this.userId = null;
    this.role = null; // "host", "moderator" or null
    this.state = { moderators: [], banned: [], muted: [] };
    this.sent = new Map(); // client id -> what was asked, for a refusal
    this.refreshTimer = null;
    this.panel = document.getElementById("mod-panel");
    document.getElementById("mod-refresh").addEventListener("click", () => this.refresh());
  }

  // setUser takes this viewer's role from its welcome: "host", "moderator" or "viewer". Only the
  // first two read the moderation state (anyone else would be refused it).
  async setUser(userId, role) {
    this.userId = userId;
    this._setRole(role === "host" || role === "moderator" ? role : null);
    if (this.role && !(await this.refresh())) this._setRole(null);
  }

  // refresh reads the moderation state into the panel; false when this viewer may not read it.
  async refresh() {
    clearTimeout(this.refreshTimer);
    try {
      this.state = await api(this.me, "GET", `/api/parties/${encodeURIComponent(this.partyId)}/moderation`);
    } catch (ex) {
      if (ex.status === 403) return false;
      this._status("Could not read the moderation state: " + ex.message);
      return this.role !== null;
    }
    this._renderPanel();
    return true;
  }

  // onEvent follows a moderation broadcast: a change of this viewer's role, or of the lists.
  onEvent(f) {
    if (f.target_user_id === this.userId && (f.type === "moderator_add" || f.type === "moderator_remove" || f.type === "ban")) {
      if (this.role !== "host") this._setRole(f.type === "moderator_add" ? "moderator" : null);
    }
    if (this.role) {
      clearTimeout(this.refreshTimer);
      this.refreshTimer = setTimeout(() => this.refresh(), 200);
    }
  }

  // refused shows the server's refusal of an action this viewer took; false when id was none.
  refused(id, code, message) {
    const what = this.sent.get(id);
    if (!what) return false;
    this.sent.delete(id);
    const why = { [CODES.FORBIDDEN]: "not allowed", [CODES.RATE_LIMITED]: "too many actions at once; wait a moment" }[code] || code;
    const text = `Refused: ${what} (${why}${message ? ": " + message : ""}).`;
    this.say(text, "refused");
    this._status(text);
    return true;
  }

  // decorate adds the actions to a chat message element (li with data-event-id, data-user-id
  // and data-name), or removes them when this viewer may not moderate.
  decorate(li) {
    const old = li.querySelector(".mod-actions");
    if (old) old.remove();
    if (!this.role || !li.dataset.eventId) return;
    const target = li.dataset.userId;
    const name = li.dataset.name || target;
    const buttons = [this._button("Delete", "delete", `delete ${name}'s message`, { target_event_id: li.dataset.eventId })];
    // Nobody acts on the host or on themselves; on another moderator only the host does (the
    // server refuses a moderator, and says so).
    if (target && target !== this.userId && target !== this.hostUserId) {
      for (const [label, s] of MUTES) {
        buttons.push(this._button(label, "mute", `mute ${name} for ${label.slice(5)}`, { target_user_id: target, duration_s: s }));
      }
      buttons.push(this._button("Kick", "kick", `kick ${name}`, { target_user_id: target }));
      buttons.push(this._button("Ban", "ban", `ban ${name}`, { target_user_id: target }));
      if (this.role === "host") {
        const isMod = this.state.moderators.includes(target);
        buttons.push(isMod
          ? this._button("Remove moderator", "moderator_remove", `remove ${name} as moderator`, { target_user_id: target })
          : this._button("Make moderator", "moderator_add", `make ${name} a moderator`, { target_user_id: target }));
      }
    }
    const menu = el("details", { class: "mod-actions" },
      el("summary", { "aria-label": `Moderate ${name}'s message`, title: "Moderate" }, "⋯"),
      el("div", { class: "mod-menu", role: "group", "aria-label": `Actions on ${name}'s message` }, ...buttons));
    li.append(menu);
  }

  _button(label, type, what, fields) {
    const b = el("button", { type: "button", class: "secondary small", "data-action": type + (fields.duration_s ? "-" + fields.duration_s : "") }, label);
    b.addEventListener("click", () => {
      const d = b.closest("details");
      if (d) d.open = false;
      this._act(type, fields, what);
    });
    return b;
  }

  _act(type, fields, what) {
    const id = this.send(type, fields);
    this.sent.set(id, what);
    if (this.sent.size > 100) this.sent.delete(this.sent.keys().next().value);
    this._status(`Sent: ${what}.`);
  }

  _setRole(role) {
    const changed = role !== this.role;
    this.role = role;
    this.panel.hidden = !role;
    if (!changed) return;
    for (const li of document.querySelectorAll("#messages li.msg[data-event-id]")) this.decorate(li);
  }

  _status(text) { document.getElementById("mod-status").textContent = text; }

  _renderPanel() {
    const st = this.state;
    const row = (text, button) => el("li", {}, el("span", { text }), button || "");
    const list = (id, items) => {
      const ul = document.getElementById(id);
      ul.replaceChildren(...(items.length ? items : [el("li", { class: "empty", text: "nobody" })]));
    };
    const undo = (label, type, user, what) => {
      const b = el("button", { type: "button", class: "secondary small", "data-action": type, "data-user": user,
        "aria-label": `${label} ${user}` }, label);
      b.addEventListener("click", () => this._act(type, { target_user_id: user }, what));
      return b;
    };
    list("mod-mods", st.moderators.map((u) => row(u,
      this.role === "host" ? undo("Remove", "moderator_remove", u, `remove ${u} as moderator`) : null)));
    list("mod-banned", st.banned.map((u) => row(u, undo("Unban", "unban", u, `unban ${u}`))));
    list("mod-muted", st.muted.map((m) => row(`${m.user_id} until ${formatTime(m.until, false)}`,
      undo("Unmute", "unmute", m.user_id, `unmute ${m.user_id}`))));
    // The host's "make"/"remove moderator" depends on the list.
    if (this.role === "host") for (const li of document.querySelectorAll("#messages li.msg[data-event-id]")) this.decorate(li);
  }
}
