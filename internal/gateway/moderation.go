package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/watchparty/watchparty/internal/auth"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/moderation"
	"github.com/watchparty/watchparty/internal/protocol"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
)

// Moderation (docs/protocol.md, "Moderation"): the host and the moderators
// it appoints delete chats, mute, kick and ban, over the WebSocket and over
// POST /api/parties/{id}/moderation, both through moderate. The action is
// an event appended to the party's stream, which also changes the party's
// moderation state in Redis (internal/moderation); every pod's room acts on it
// as it delivers it (closing a kicked user's connections), and the flusher
// stores it as a log row.

// moderated is what became of a moderation action: the stored event and
// its result, or the error code and message to answer.
type moderated struct {
	event event.Event
	res   stream.Result
	code  protocol.Code // the zero code when the action was stored
	msg   string
	err   error // a Redis failure, for the log
}

// moderate authorises and appends the moderation action in by actor in
// party. A resend under the same client message id (in.ClientID) is stored
// once.
func (g *Gateway) moderate(ctx context.Context, party store.Party, actor auth.Identity, in event.Inbound) moderated {
	err := moderation.Authorize(ctx, rdb.NewModeration(g.rdb), party.ID, party.HostUserID, actor.UserID, in.Type, in.Target)
	switch {
	case moderation.IsRefusal(err):
		return moderated{code: protocol.CodeForbidden, msg: err.Error()}
	case err != nil:
		return moderated{code: protocol.CodeUnavailable, msg: "moderation state could not be read; try again", err: err}
	}
	e := event.Event{Type: in.Type, ID: event.NewID(party.ID, actor.UserID, in.ClientID), PartyID: party.ID,
		UserID: actor.UserID, Name: actor.Name, CreatedAt: event.Millis(g.now()),
		Target: in.Target, TargetEvent: in.TargetEvent}
	if in.MuteDuration > 0 { // a mute: until when
		e.Until = e.CreatedAt.Add(in.MuteDuration)
	}
	res, err := g.appender.AppendModeration(ctx, e, in.ClientID != "", party.HostUserID)
	code, msg := appendOutcome(res, err)
	return moderated{event: e, res: res, code: code, msg: msg, err: err}
}

// moderationAction is the body of a moderation request answered 200.
type moderationAction struct {
	EventID  string `json:"event_id"`
	StreamID string `json:"stream_id"`
}

// moderation takes a moderation action: the body is the WebSocket frame of
// the action (docs/protocol.md). 200 once stored, with its event_id and
// stream_id; 403 for a caller who may not, 409 when the party is not
// ONGOING.
func (a *partyAPI) moderation(w http.ResponseWriter, r *http.Request, caller auth.Identity) {
	id, ok := pathParty(w, r)
	if !ok {
		return
	}
	// The token is taken before the action is read or authorised, so that
	// refusals count too; the bucket is the one the WebSocket takes.
	if !a.limits.allowClass(id, caller.UserID, moderationClass(), a.now()) {
		refuse(w, refusal{http.StatusTooManyRequests, protocol.CodeRateLimited, "too many moderation actions; slow down",
			a.limits.retryAfter(moderationClass())})
		return
	}
	var body json.RawMessage
	if msg := decodeBody(w, r, &body, a.maxBody); msg != "" {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidRequest, msg)
		return
	}
	in, err := event.ParseInbound(body)
	if err == nil && !in.Type.IsModeration() {
		err = errors.New("type must be a moderation action: " + moderationTypeList())
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidRequest, err.Error())
		return
	}
	p, ok := a.party(w, r)
	if !ok {
		return
	}
	if p.Status != store.Ongoing {
		writeError(w, http.StatusConflict, protocol.CodeConflict, "party is "+p.Status+", not ONGOING")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	m := a.moderate(ctx, p, caller, in)
	switch m.code {
	case protocol.Code{}:
		a.log.Info("moderation", "party_id", id, "type", in.Type, "by", caller.UserID, "target", in.Target,
			"target_event_id", in.TargetEvent)
		writeJSON(w, http.StatusOK, moderationAction{EventID: m.event.ID.String(), StreamID: m.res.StreamID})
	case protocol.CodeForbidden, protocol.CodeBanned:
		writeError(w, http.StatusForbidden, m.code, m.msg)
	case protocol.CodeRateLimited:
		refuse(w, refusal{http.StatusTooManyRequests, protocol.CodeRateLimited, m.msg, a.limits.retryAfter(moderationClass())})
	case protocol.CodePartyEnded:
		writeError(w, http.StatusConflict, protocol.CodeConflict, "the party has ended")
	default:
		a.unavailable(w, id, errors.Join(errors.New(m.msg), m.err))
	}
}

// moderationState shows the party's host, moderators, bans and current
// mutes, to the host and its moderators only.
func (a *partyAPI) moderationState(w http.ResponseWriter, r *http.Request, caller auth.Identity) {
	p, ok := a.party(w, r)
	if !ok {
		return
	}
	st, err := moderation.Read(r.Context(), rdb.NewModeration(a.rdb), p.ID, a.now())
	if err != nil {
		a.unavailable(w, p.ID, err)
		return
	}
	if caller.UserID != p.HostUserID && !slices.Contains(st.Moderators, caller.UserID) {
		writeError(w, http.StatusForbidden, protocol.CodeForbidden, "only the host and its moderators can see the moderation state")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		HostUserID string `json:"host_user_id"`
		moderation.State
	}{p.HostUserID, st})
}

// moderationClass is the rate class of the moderation route: the one the
// moderation kinds declare, which the WebSocket takes too. The route takes
// its token before it reads the body, so the class cannot be the body's.
func moderationClass() rateClass {
	c, _ := classOf(event.Delete)
	return c
}

// moderationTypeList names the moderation types, for errors: "a, b or c".
func moderationTypeList() string {
	types := event.ModerationTypes()
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
