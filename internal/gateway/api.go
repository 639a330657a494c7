package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/auth"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/protocol"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
)

// REST API limits (SPEC §4).
const (
	maxTitleRunes    = 200
	maxVideoURLLen   = 2048
	maxListedParties = 100
)

// LiveStats gives the numbers of a party that change while it runs. Its
// methods are safe for concurrent use and return when ctx ends.
type LiveStats interface {
	// Viewers is the number of open connections to the party on all pods.
	Viewers(ctx context.Context, party uuid.UUID) (int, error)
	// Likes is the party's total likes.
	Likes(ctx context.Context, party uuid.UUID) (int64, error)
}

// partyAPI serves the REST API of SPEC §4: create, list, read, end and
// cancel parties. It is safe for concurrent use.
type partyAPI struct {
	parties  *store.Parties
	live     LiveStats
	history  ChatHistory
	verifier *auth.Verifier
	rdb      rdb.Client
	moderate func(ctx context.Context, party store.Party, actor auth.Identity, in event.Inbound) moderated
	limits   *limiters
	log      *slog.Logger
	now      func() time.Time

	maxBody        int64         // request body bytes
	maxActive      int           // SCHEDULED+ONGOING parties per host; 0: no cap
	maxPartyLength time.Duration // end_time - start_time
}

// registerAPI adds the REST API under /api/ to mux, behind CORS and, except
// for preflights, authentication as for WebSockets.
func (g *Gateway) registerAPI(mux *http.ServeMux) {
	a := &partyAPI{parties: g.store, live: g.liveStats(), history: g.history, verifier: g.verifier,
		rdb: g.rdb, moderate: g.moderate, limits: g.limits,
		log: g.log.With("component", "api"), now: g.now, maxBody: int64(g.cfg.MaxBodyBytes),
		maxActive: g.cfg.MaxActivePartiesPerHost, maxPartyLength: g.cfg.MaxPartyDuration}
	api := http.NewServeMux()
	for _, rt := range a.routes() {
		api.HandleFunc(rt.pattern, a.authed(rt.limit, rt.handle))
	}
	api.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) { noRoute(api, w, r) })
	mux.Handle("/api/", cors(g.cfg.Origins(), api))
}

// route is one REST route: who may call it is the handler's to decide
// (every route needs a signed-in caller); limit is the caller's bucket it
// takes a token of first.
type route struct {
	pattern string
	limit   routeLimit
	handle  func(http.ResponseWriter, *http.Request, auth.Identity)
}

// routeLimit picks the bucket a route's caller takes a token of, or nil
// for a route that takes its own inside the handler; each route declares
// one (a test enumerates them).
type routeLimit func(*limiters) *buckets[string]

var (
	limitRead    routeLimit = func(l *limiters) *buckets[string] { return l.apiRead }
	limitWrite   routeLimit = func(l *limiters) *buckets[string] { return l.apiWrite }
	limitHistory routeLimit = func(l *limiters) *buckets[string] { return l.history }
	// limitInHandler: the moderation action takes its token of the
	// moderation class per user and party, shared with the WebSocket.
	limitInHandler routeLimit = func(*limiters) *buckets[string] { return nil }
)

// routes lists the REST API (docs/api.md).
func (a *partyAPI) routes() []route {
	return []route{
		{"POST /api/parties", limitWrite, a.create},
		{"GET /api/parties", limitRead, a.list},
		{"GET /api/parties/{id}", limitRead, a.get},
		{"GET /api/parties/{id}/chats", limitHistory, a.chats},
		{"POST /api/parties/{id}/end", limitWrite, a.end},
		{"POST /api/parties/{id}/cancel", limitWrite, a.cancel},
		{"POST /api/parties/{id}/moderation", limitInHandler, a.moderation},
		{"GET /api/parties/{id}/moderation", limitRead, a.moderationState},
	}
}

// authed runs h with the caller's identity, or answers 401; then takes a
// token of the caller's bucket of limit, or answers 429 with Retry-After.
func (a *partyAPI) authed(limit routeLimit, h func(http.ResponseWriter, *http.Request, auth.Identity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := a.verifier.Authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(w, http.StatusUnauthorized, protocol.CodeUnauthorized, err.Error())
			return
		}
		if b := limit(a.limits); b != nil && !b.allow(id.UserID, a.now()) {
			refuse(w, refusal{http.StatusTooManyRequests, protocol.CodeRateLimited, "too many requests; slow down", b.retryAfter()})
			return
		}
		h(w, r, id)
	}
}

// noRoute answers a request no API route took: 405 when the path exists
// for another method, else 404.
func noRoute(api *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := api.Handler(probe); pattern != "/api/" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) == 0 {
		writeError(w, http.StatusNotFound, protocol.CodeNotFound, "no such endpoint")
		return
	}
	w.Header().Set("Allow", strings.Join(append(allowed, http.MethodOptions), ", "))
	writeError(w, http.StatusMethodNotAllowed, protocol.CodeInvalidRequest,
		fmt.Sprintf("method %s not allowed here; use %s", r.Method, strings.Join(allowed, " or ")))
}

// partyView is a party as the API shows it. Times are RFC 3339 in UTC;
// started_at, finished_at and end_requested_at are null when unset.
type partyView struct {
	ID             uuid.UUID  `json:"id"`
	Title          string     `json:"title"`
	VideoURL       string     `json:"video_url"`
	HostUserID     string     `json:"host_user_id"`
	Control        string     `json:"control"`
	StartTime      time.Time  `json:"start_time"`
	EndTime        time.Time  `json:"end_time"`
	Status         string     `json:"status"`
	StartedAt      *time.Time `json:"started_at"`
	FinishedAt     *time.Time `json:"finished_at"`
	PeakViewers    int        `json:"peak_viewers"`
	Viewers        int        `json:"viewers"`
	Likes          int64      `json:"likes"`
	EndRequestedAt *time.Time `json:"end_requested_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// view adds the live numbers to p: viewers only while it is ONGOING.
func (a *partyAPI) view(ctx context.Context, p store.Party) (partyView, error) {
	v := partyView{ID: p.ID, Title: p.Title, VideoURL: p.VideoURL, HostUserID: p.HostUserID,
		Control: p.Control, StartTime: p.StartTime.UTC(), EndTime: p.EndTime.UTC(), Status: p.Status,
		StartedAt: utc(p.StartedAt), FinishedAt: utc(p.FinishedAt), PeakViewers: p.PeakViewers,
		EndRequestedAt: utc(p.EndRequestedAt), CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
	var err error
	if p.Status == store.Ongoing {
		if v.Viewers, err = a.live.Viewers(ctx, p.ID); err != nil {
			return v, fmt.Errorf("viewers of party %s: %w", p.ID, err)
		}
	}
	if v.Likes, err = a.live.Likes(ctx, p.ID); err != nil {
		return v, fmt.Errorf("likes of party %s: %w", p.ID, err)
	}
	return v, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// reply writes p with its live numbers.
func (a *partyAPI) reply(w http.ResponseWriter, r *http.Request, status int, p store.Party) {
	v, err := a.view(r.Context(), p)
	if err != nil {
		a.unavailable(w, p.ID, err)
		return
	}
	writeJSON(w, status, v)
}

func (a *partyAPI) unavailable(w http.ResponseWriter, party uuid.UUID, err error) {
	a.log.Error("party request failed", "party_id", party, "err", err)
	writeError(w, http.StatusServiceUnavailable, protocol.CodeUnavailable, "storage unavailable; try again")
}

// createRequest is the body of POST /api/parties.
type createRequest struct {
	Title     string `json:"title"`
	VideoURL  string `json:"video_url"`
	StartTime string `json:"start_time"`
	EndTime   string `json:"end_time"`
	Control   string `json:"control"`
}

func (a *partyAPI) create(w http.ResponseWriter, r *http.Request, id auth.Identity) {
	var req createRequest
	if msg := decodeBody(w, r, &req, a.maxBody); msg != "" {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidRequest, msg)
		return
	}
	p, problems := req.party(a.now(), a.maxPartyLength)
	if len(problems) > 0 {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidRequest, strings.Join(problems, "; "))
		return
	}
	p.HostUserID = id.UserID
	p, err := a.parties.CreateForHost(r.Context(), p, a.maxActive)
	if errors.Is(err, store.ErrTooManyParties) {
		writeError(w, http.StatusConflict, protocol.CodeConflict, fmt.Sprintf(
			"you already have %d scheduled or ongoing parties, the most allowed; cancel or end one first", a.maxActive))
		return
	}
	if err != nil {
		a.unavailable(w, p.ID, err)
		return
	}
	a.log.Info("party created", "party_id", p.ID, "host", p.HostUserID, "start_time", p.StartTime)
	w.Header().Set("Location", "/api/parties/"+p.ID.String())
	a.reply(w, r, http.StatusCreated, p)
}

// decodeBody reads one JSON object of at most limit bytes into v, ignoring
// unknown fields, and returns what is wrong with it, or "".
func decodeBody(w http.ResponseWriter, r *http.Request, v any, limit int64) string {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return "body must be a single JSON object"
		}
		return ""
	}
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return fmt.Sprintf("body is over %d bytes (%d KiB)", limit, limit>>10)
	case errors.Is(err, io.EOF):
		return "body must be a JSON object; it is empty"
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return fmt.Sprintf("%s must be a JSON %s, not %s", typeErr.Field, typeErr.Type.Kind(), typeErr.Value)
	case errors.As(err, &typeErr):
		return "body must be a JSON object, not " + typeErr.Value
	default:
		return "malformed JSON body: " + err.Error()
	}
}

// party validates the request as of now, with maxLength the longest
// end_time - start_time, and returns the party to create, or every problem
// found.
func (req createRequest) party(now time.Time, maxLength time.Duration) (store.Party, []string) {
	var problems []string
	problems = appendIf(problems, titleProblem(req.Title))
	problems = appendIf(problems, videoURLProblem(req.VideoURL))
	start, msg := parseTime("start_time", req.StartTime)
	problems = appendIf(problems, msg)
	end, msg := parseTime("end_time", req.EndTime)
	problems = appendIf(problems, msg)
	switch {
	case start.IsZero() || end.IsZero():
	case !end.After(start):
		problems = append(problems, "end_time must be after start_time")
	case !end.After(now):
		problems = append(problems, "end_time has already passed")
	case maxLength > 0 && end.Sub(start) > maxLength:
		problems = append(problems, fmt.Sprintf("a party may last at most %s (end_time - start_time)", maxLength))
	}
	control := req.Control
	switch control {
	case "":
		control = store.ControlHost
	case store.ControlHost, store.ControlEveryone:
	default:
		problems = append(problems, fmt.Sprintf("control must be %q or %q", store.ControlHost, store.ControlEveryone))
	}
	return store.Party{Title: req.Title, VideoURL: req.VideoURL, StartTime: start, EndTime: end,
		Status: store.Scheduled, Control: control}, problems
}

func appendIf(problems []string, msg string) []string {
	if msg == "" {
		return problems
	}
	return append(problems, msg)
}

func titleProblem(title string) string {
	switch {
	case strings.TrimSpace(title) == "":
		return "title is required"
	case utf8.RuneCountInString(title) > maxTitleRunes:
		return fmt.Sprintf("title is over %d characters", maxTitleRunes)
	case strings.ContainsFunc(title, unicode.IsControl):
		return "title must not contain control characters"
	}
	return ""
}

func videoURLProblem(raw string) string {
	if raw == "" {
		return "video_url is required"
	}
	if len(raw) > maxVideoURLLen {
		return fmt.Sprintf("video_url is over %d bytes", maxVideoURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "video_url must be an absolute http or https URL"
	}
	return ""
}

// parseTime parses an RFC 3339 time; the zero time comes with a problem.
func parseTime(field, raw string) (time.Time, string) {
	if raw == "" {
		return time.Time{}, field + " is required"
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return time.Time{}, field + " must be an RFC 3339 time such as 2026-01-02T15:04:05Z"
	}
	return t, ""
}

// list answers GET /api/parties[?status=S][&limit=N]: newest first, at
// most 100.
func (a *partyAPI) list(w http.ResponseWriter, r *http.Request, _ auth.Identity) {
	q := r.URL.Query()
	status := strings.ToUpper(q.Get("status"))
	switch status {
	case "", store.Scheduled, store.Ongoing, store.Finished, store.Cancelled:
	default:
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidRequest,
			"status must be one of SCHEDULED, ONGOING, FINISHED, CANCELLED")
		return
	}
	limit := maxListedParties
	if raw := q.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxListedParties {
			writeError(w, http.StatusBadRequest, protocol.CodeInvalidRequest,
				fmt.Sprintf("limit must be a whole number from 1 to %d", maxListedParties))
			return
		}
		limit = n
	}
	parties, err := a.parties.List(r.Context(), status, limit)
	if err != nil {
		a.unavailable(w, uuid.Nil, err)
		return
	}
	views := make([]partyView, 0, len(parties))
	for _, p := range parties {
		v, err := a.view(r.Context(), p)
		if err != nil {
			a.unavailable(w, p.ID, err)
			return
		}
		views = append(views, v)
	}
	writeJSON(w, http.StatusOK, struct {
		Parties []partyView `json:"parties"`
	}{views})
}

func (a *partyAPI) get(w http.ResponseWriter, r *http.Request, _ auth.Identity) {
	if p, ok := a.party(w, r); ok {
		a.reply(w, r, http.StatusOK, p)
	}
}

// end asks the scheduler to finish an ONGOING party: 202, with the party
// still ONGOING and end_requested_at set.
func (a *partyAPI) end(w http.ResponseWriter, r *http.Request, caller auth.Identity) {
	id, ok := pathParty(w, r)
	if !ok {
		return
	}
	p, err := a.parties.RequestEnd(r.Context(), id, caller.UserID)
	if err != nil {
		a.changeFailed(w, id, p, err, "end", store.Ongoing)
		return
	}
	a.log.Info("party end requested", "party_id", id, "host", caller.UserID)
	a.reply(w, r, http.StatusAccepted, p)
}

// cancel cancels a SCHEDULED party: 200 with the CANCELLED party.
func (a *partyAPI) cancel(w http.ResponseWriter, r *http.Request, caller auth.Identity) {
	id, ok := pathParty(w, r)
	if !ok {
		return
	}
	p, err := a.parties.Cancel(r.Context(), id, caller.UserID)
	if err != nil {
		a.changeFailed(w, id, p, err, "cancel", store.Scheduled)
		return
	}
	a.log.Info("party cancelled", "party_id", id, "host", caller.UserID)
	a.reply(w, r, http.StatusOK, p)
}

// party reads the party of the path, or answers 404 (503 when it cannot
// be read).
func (a *partyAPI) party(w http.ResponseWriter, r *http.Request) (store.Party, bool) {
	id, ok := pathParty(w, r)
	if !ok {
		return store.Party{}, false
	}
	p, err := a.parties.Get(r.Context(), id)
	if err != nil {
		a.changeFailed(w, id, p, err, "", "")
		return p, false
	}
	return p, true
}

// pathParty parses the {id} of the path; an id that is not a UUID names no
// party, so it gets 404.
func pathParty(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, protocol.CodeNotFound, "no such party")
		return uuid.Nil, false
	}
	return id, true
}

// changeFailed maps a store error to the API's: 404, 403, 409 or 503.
// cur is the party as it is now, for the 409 message; want the status the
// action needs.
func (a *partyAPI) changeFailed(w http.ResponseWriter, id uuid.UUID, cur store.Party, err error, action, want string) {
	switch {
	case errors.Is(err, store.ErrPartyNotFound):
		writeError(w, http.StatusNotFound, protocol.CodeNotFound, "no such party")
	case errors.Is(err, store.ErrNotHost):
		writeError(w, http.StatusForbidden, protocol.CodeForbidden, "only the party's host can "+action+" it")
	case errors.Is(err, store.ErrWrongStatus):
		writeError(w, http.StatusConflict, protocol.CodeConflict, fmt.Sprintf("party is %s, not %s", cur.Status, want))
	default:
		a.unavailable(w, id, err)
	}
}
