package gateway

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/auth"
	"github.com/watchparty/watchparty/internal/moderation"
	"github.com/watchparty/watchparty/internal/protocol"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
)

// admission is a join that passed every check of admit.
type admission struct {
	identity auth.Identity
	party    store.Party
	release  func() // frees the connection slots the join holds; safe to call twice
}

// joinRefusal is why admit refused a join. counted says it is counted as
// a refused join in the event metrics (a limit, or a ban).
type joinRefusal struct {
	refusal
	counted bool
}

// admit checks a join to the party whose id is partyID, in this order:
// the address's join rate, identity (r's token or dev user), the user's
// join rate, Origin, connection slots, the party (ONGOING, not closed),
// a ban, the party's viewer cap. r carries the client's address, Origin
// and credentials. Both /ws (before its upgrade) and Socket.IO (at its
// CONNECT) join through it, so both refuse alike. On a refusal no slot is
// held; otherwise the caller owns the admission's release.
func (g *Gateway) admit(r *http.Request, partyID string) (admission, joinRefusal, bool) {
	no := func(status int, code protocol.Code, msg string) (admission, joinRefusal, bool) {
		return admission{}, joinRefusal{refusal: refusal{status, code, msg, ""}}, false
	}
	limited := func(r refusal) (admission, joinRefusal, bool) {
		return admission{}, joinRefusal{refusal: r, counted: true}, false
	}
	id, err := uuid.Parse(partyID)
	if err != nil {
		return no(http.StatusNotFound, protocol.CodeNotFound, "no such party")
	}
	addr := addrGroup(clientAddr(r, g.trusted), g.cfg.IPv6Prefix)
	if !g.limits.ipJoin.allow(addr, g.now()) {
		return limited(refusal{http.StatusTooManyRequests, protocol.CodeRateLimited,
			"too many joins from this address; slow down", g.limits.ipJoin.retryAfter()})
	}
	who, err := g.verifier.Authenticate(r)
	if err != nil {
		return no(http.StatusUnauthorized, protocol.CodeUnauthorized, err.Error())
	}
	if !g.limits.join.allow(who.UserID, g.now()) {
		return limited(refusal{http.StatusTooManyRequests, protocol.CodeRateLimited,
			"too many joins by this user; slow down", g.limits.join.retryAfter()})
	}
	if !originAllowed(r, g.cfg.Origins()) {
		return no(http.StatusForbidden, protocol.CodeForbidden, "origin not allowed")
	}
	release, refused, ok := g.conns.acquire(r.Context(), who.UserID, addr)
	if !ok {
		return limited(refused)
	}
	a, jr, ok := g.admitParty(r, id, who)
	if !ok {
		release()
		return a, jr, false
	}
	a.release = release
	return a, jr, true
}

// admitParty is the party's part of admit.
func (g *Gateway) admitParty(r *http.Request, partyID uuid.UUID, who auth.Identity) (admission, joinRefusal, bool) {
	no := func(status int, code protocol.Code, msg string) (admission, joinRefusal, bool) {
		return admission{}, joinRefusal{refusal: refusal{status, code, msg, ""}}, false
	}
	party, err := g.parties.get(r.Context(), partyID)
	switch {
	case errors.Is(err, store.ErrPartyNotFound):
		return no(http.StatusNotFound, protocol.CodeNotFound, "no such party")
	case err != nil:
		g.log.Error("read party for join", "party_id", partyID, "err", err)
		return no(http.StatusServiceUnavailable, protocol.CodeUnavailable, "party lookup failed; try again")
	case party.Status != store.Ongoing:
		return no(http.StatusConflict, protocol.CodeConflict, "party is "+party.Status+", not ONGOING")
	}
	if closed, err := stream.IsClosed(r.Context(), g.rdb, partyID); err != nil || closed {
		if err != nil {
			return no(http.StatusServiceUnavailable, protocol.CodeUnavailable, "redis unavailable; try again")
		}
		return no(http.StatusConflict, protocol.CodeConflict, "party has ended")
	}
	switch banned, err := moderation.Banned(r.Context(), rdb.NewModeration(g.rdb), partyID, who.UserID); {
	case err != nil:
		return no(http.StatusServiceUnavailable, protocol.CodeUnavailable, "redis unavailable; try again")
	case banned:
		return admission{}, joinRefusal{refusal{http.StatusForbidden, protocol.CodeForbidden, "you are banned from this party", ""}, true}, false
	}
	if limit := g.cfg.MaxConnsPerParty; limit > 0 {
		n, err := g.presence.Total(r.Context(), partyID)
		switch {
		case err != nil:
			return no(http.StatusServiceUnavailable, protocol.CodeUnavailable, "redis unavailable; try again")
		case n >= limit:
			return admission{}, joinRefusal{refusal{http.StatusTooManyRequests, protocol.CodeRateLimited,
				fmt.Sprintf("the party is full (%d viewers); try again later", limit), "30"}, true}, false
		}
	}
	return admission{identity: who, party: party}, joinRefusal{}, true
}

// refuseAdmission answers a /ws join admit refused.
func (g *Gateway) refuseAdmission(w http.ResponseWriter, no joinRefusal) {
	if no.counted {
		g.refuseJoin(w, no.refusal)
		return
	}
	writeError(w, no.status, no.code, no.msg)
}
