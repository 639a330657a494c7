package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/watchparty/watchparty/internal/auth"
	"github.com/watchparty/watchparty/internal/gateway"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// apiEnv is one in-process gateway over a fresh database.
type apiEnv struct {
	t       *testing.T
	url     string
	db      *pgxpool.Pool
	parties *store.Parties
}

// newGateway builds a gateway with cfg over a fresh database and the
// shared Redis; without an auth secret it uses dev auth.
func newGateway(t *testing.T, cfg gateway.Config) (*gateway.Gateway, *pgxpool.Pool) {
	t.Helper()
	db, err := store.Open(context.Background(), testenv.NewDatabase(t, store.Migrate))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	rc, err := rdb.Open(testenv.SharedRedisURL(t), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	if cfg.AuthSecret == "" {
		cfg.DevAuth = true
	}
	cfg.MaxBufferedEvents, cfg.ShutdownTimeout = 1000, time.Second
	g, err := gateway.New(cfg, rc, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return g, db
}

// newAPIEnv serves a gateway's HTTP handler only.
func newAPIEnv(t *testing.T, cfg gateway.Config) *apiEnv {
	t.Helper()
	g, db := newGateway(t, cfg)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return &apiEnv{t: t, url: srv.URL, db: db, parties: store.NewParties(db)}
}

// newServedEnv is newAPIEnv with the whole gateway running (Serve): its
// background parts too, so viewers can join over WebSockets.
func newServedEnv(t *testing.T, cfg gateway.Config) *apiEnv {
	t.Helper()
	g, db := newGateway(t, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, g, ln)
	return &apiEnv{t: t, url: "http://" + ln.Addr().String(), db: db, parties: store.NewParties(db)}
}

// serve runs g on ln until the test ends.
func serve(t *testing.T, g *gateway.Gateway, ln net.Listener) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request as user (dev auth; "" for none) with extra headers
// given as name, value pairs.
func (e *apiEnv) do(method, path, user, body string, headers ...string) response {
	e.t.Helper()
	if user != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "user=" + url.QueryEscape(user)
	}
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// insert stores a party of host in status directly, as other systems may.
func (e *apiEnv) insert(host, status string) uuid.UUID {
	e.t.Helper()
	now := time.Now()
	p, err := e.parties.Create(context.Background(), store.Party{Title: "direct", VideoURL: "https://v.example/d",
		HostUserID: host, StartTime: now.Add(-time.Minute), EndTime: now.Add(time.Hour), Status: status})
	if err != nil {
		e.t.Fatal(err)
	}
	return p.ID
}

func wantError(t *testing.T, r response, status int, code string) string {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("status %d, body %q: not a JSON error", r.status, r.body)
	}
	if r.status != status || body.Error.Code != code || body.Error.Message == "" {
		t.Fatalf("got %d %q; want %d %s with a message", r.status, r.body, status, code)
	}
	return body.Error.Message
}

// party is the API's party as a client reads it.
type party struct {
	ID             string     `json:"id"`
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
}

func decodeParty(t *testing.T, r response, status int) party {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, body %s; want %d", r.status, r.body, status)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &keys); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	for _, k := range []string{"id", "title", "video_url", "host_user_id", "control", "start_time", "end_time",
		"status", "started_at", "finished_at", "peak_viewers", "viewers", "likes"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("party has no %q: %s", k, r.body)
		}
	}
	var p party
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// createBody is a valid create request, changed by edit.
func createBody(edit func(map[string]any)) string {
	now := time.Now()
	m := map[string]any{"title": "Movie night", "video_url": "https://v.example/movie.mp4",
		"start_time": now.Add(time.Hour).Format(time.RFC3339), "end_time": now.Add(3 * time.Hour).Format(time.RFC3339)}
	if edit != nil {
		edit(m)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func set(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
func drop(k string) func(map[string]any)       { return func(m map[string]any) { delete(m, k) } }

func TestCreateRefusesBadInput(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, gateway.Config{})
	now := time.Now()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	for _, tc := range []struct {
		name    string
		body    string
		mention string // the message names the problem
	}{
		{"malformed JSON", `{"title":`, "JSON"},
		{"empty body", ``, "empty"},
		{"not an object", `[1,2]`, "object"},
		{"two objects", createBody(nil) + `{}`, "single"},
		{"title not a string", createBody(set("title", 5)), "title"},
		{"missing title", createBody(drop("title")), "title"},
		{"blank title", createBody(set("title", " \t\n ")), "title"},
		{"title over 200 code points", createBody(set("title", strings.Repeat("é", 201))), "200"},
		{"title with a control character", createBody(set("title", "a\u0007b")), "control characters"},
		{"missing video_url", createBody(drop("video_url")), "video_url"},
		{"ftp video_url", createBody(set("video_url", "ftp://v.example/m")), "video_url"},
		{"relative video_url", createBody(set("video_url", "/m.mp4")), "video_url"},
		{"missing start_time", createBody(drop("start_time")), "start_time"},
		{"start_time not RFC 3339", createBody(set("start_time", "2030-01-02 15:04:05")), "start_time"},
		{"end_time a date only", createBody(set("end_time", "2030-01-02")), "end_time"},
		{"end_time a number", createBody(set("end_time", 1893456000)), "end_time"},
		{"end equals start", createBody(func(m map[string]any) { m["start_time"], m["end_time"] = at(time.Hour), at(time.Hour) }), "after start_time"},
		{"end before start", createBody(func(m map[string]any) { m["start_time"], m["end_time"] = at(2*time.Hour), at(time.Hour) }), "after start_time"},
		{"end already passed", createBody(func(m map[string]any) { m["start_time"], m["end_time"] = at(-3*time.Hour), at(-time.Hour) }), "passed"},
		{"unknown control", createBody(set("control", "admin")), "control"},
		{"control in the wrong case", createBody(set("control", "Host")), "control"},
		{"body over 64 KiB", createBody(set("title", strings.Repeat("a", 70<<10))), "64 KiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := wantError(t, e.do("POST", "/api/parties", "alice", tc.body, "Content-Type", "application/json"),
				http.StatusBadRequest, "invalid_request")
			if !strings.Contains(msg, tc.mention) {
				t.Errorf("message %q does not mention %q", msg, tc.mention)
			}
		})
	}
	list, err := e.parties.List(context.Background(), "", 100)
	if err != nil || len(list) != 0 {
		t.Errorf("refused requests stored %d parties (%v)", len(list), err)
	}
}

func TestCreateThenGet(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, gateway.Config{})
	start := time.Date(2099, 5, 6, 7, 8, 9, 500_000_000, time.FixedZone("", 2*3600))
	body := fmt.Sprintf(`{"title":"Movie night","video_url":"https://v.example/m.mp4","start_time":%q,"end_time":%q,"extra":1}`,
		start.Format(time.RFC3339Nano), start.Add(2*time.Hour).Format(time.RFC3339Nano))
	res := e.do("POST", "/api/parties", "alice", body)
	created := decodeParty(t, res, http.StatusCreated)
	want := party{ID: created.ID, Title: "Movie night", VideoURL: "https://v.example/m.mp4", HostUserID: "alice",
		Control: "host", StartTime: start.UTC(), EndTime: start.Add(2 * time.Hour).UTC(), Status: "SCHEDULED"}
	if diff := cmp.Diff(want, created); diff != "" {
		t.Errorf("created party (-want +got):\n%s", diff)
	}
	if _, err := uuid.Parse(created.ID); err != nil {
		t.Errorf("id %q is not a UUID", created.ID)
	}
	for _, null := range []string{`"started_at":null`, `"finished_at":null`, `"start_time":"2099-05-06T05:08:09.5Z"`} {
		if !strings.Contains(string(res.body), null) {
			t.Errorf("body %s lacks %s", res.body, null)
		}
	}
	if loc := res.header.Get("Location"); loc != "/api/parties/"+created.ID {
		t.Errorf("Location %q", loc)
	}
	got := decodeParty(t, e.do("GET", "/api/parties/"+created.ID, "bob", ""), http.StatusOK)
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("GET after create (-created +got):\n%s", diff)
	}

	for name, edit := range map[string]func(map[string]any){
		"control everyone":            set("control", "everyone"),
		"title of 200 code points":    set("title", strings.Repeat("é", 200)),
		"start already come":          set("start_time", time.Now().Add(-time.Hour).Format(time.RFC3339)),
		"times with offset and nanos": set("end_time", time.Now().Add(5*time.Hour).In(time.FixedZone("", -5*3600)).Format(time.RFC3339Nano)),
	} {
		p := decodeParty(t, e.do("POST", "/api/parties", "alice", createBody(edit)), http.StatusCreated)
		if p.Status != "SCHEDULED" || p.HostUserID != "alice" {
			t.Errorf("%s: created %s by %s, want SCHEDULED by alice", name, p.Status, p.HostUserID)
		}
	}
}

func TestGetShowsLiveNumbersAndUnknownIDsAre404(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, gateway.Config{})
	ctx := context.Background()
	id := e.insert("host", store.Ongoing)
	if _, err := e.db.Exec(ctx, `UPDATE watch_parties SET started_at = now(), peak_viewers = 4 WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"a", "b"} {
		if _, err := e.db.Exec(ctx, `INSERT INTO watch_party_likes (party_id, user_id, event_id, created_at)
			VALUES ($1, $2, $3, now())`, id, user, uuid.New()); err != nil {
			t.Fatal(err)
		}
	}
	p := decodeParty(t, e.do("GET", "/api/parties/"+id.String(), "viewer", ""), http.StatusOK)
	if p.Status != "ONGOING" || p.StartedAt == nil || p.FinishedAt != nil || p.PeakViewers != 4 || p.Likes != 2 || p.Viewers != 0 {
		t.Errorf("got %+v; want ONGOING, started, 4 peak viewers, 2 likes, nobody connected", p)
	}
	for _, path := range []string{"/api/parties/" + uuid.NewString(), "/api/parties/not-a-uuid", "/api/parties/42"} {
		wantError(t, e.do("GET", path, "viewer", ""), http.StatusNotFound, "not_found")
	}
}

func TestListIsNewestFirstFilteredAndCapped(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, gateway.Config{})
	ctx := context.Background()
	base := time.Now().Add(-time.Hour)
	var all, ongoing, scheduled []string // newest first
	for i := range 105 {
		status := store.Scheduled
		if i%3 == 0 {
			status = store.Ongoing
		}
		id := e.insert("host", status)
		if _, err := e.db.Exec(ctx, `UPDATE watch_parties SET created_at = $2 WHERE id = $1`,
			id, base.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		all = append([]string{id.String()}, all...)
		if status == store.Ongoing {
			ongoing = append([]string{id.String()}, ongoing...)
		} else {
			scheduled = append([]string{id.String()}, scheduled...)
		}
	}
	list := func(query string) []string {
		t.Helper()
		res := e.do("GET", "/api/parties"+query, "viewer", "")
		if res.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", query, res.status, res.body)
		}
		var body struct{ Parties []party }
		if err := json.Unmarshal(res.body, &body); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, p := range body.Parties {
			ids = append(ids, p.ID)
		}
		return ids
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", all[:100]},
		{"?status=ONGOING", ongoing},
		{"?status=ongoing", ongoing},
		{"?status=SCHEDULED&limit=3", scheduled[:3]},
		{"?limit=5", all[:5]},
		{"?status=FINISHED", nil},
	} {
		if diff := cmp.Diff(tc.want, list(tc.query)); diff != "" {
			t.Errorf("GET /api/parties%s ids (-want +got):\n%s", tc.query, diff)
		}
	}
	if res := e.do("GET", "/api/parties?status=FINISHED", "viewer", ""); strings.TrimSpace(string(res.body)) != `{"parties":[]}` {
		t.Errorf("empty list is %s, want an empty array", res.body)
	}
	for _, query := range []string{"?status=DONE", "?limit=0", "?limit=101", "?limit=ten"} {
		wantError(t, e.do("GET", "/api/parties"+query, "viewer", ""), http.StatusBadRequest, "invalid_request")
	}
}

func TestEndParty(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, gateway.Config{})
	ctx := context.Background()
	live := e.insert("host", store.Ongoing)
	path := "/api/parties/" + live.String() + "/end"

	wantError(t, e.do("POST", path, "guest", ""), http.StatusForbidden, "forbidden")
	if p, _ := e.parties.Get(ctx, live); p.EndRequestedAt != nil {
		t.Fatal("a guest's end request was recorded")
	}
	p := decodeParty(t, e.do("POST", path, "host", ""), http.StatusAccepted)
	if p.Status != "ONGOING" || p.EndRequestedAt == nil {
		t.Errorf("answer %+v; want still ONGOING with end_requested_at set", p)
	}
	stored, err := e.parties.Get(ctx, live)
	if err != nil || stored.EndRequestedAt == nil || stored.Status != store.Ongoing {
		t.Fatalf("stored %+v, %v; want ONGOING with end_requested_at for the scheduler", stored, err)
	}
	decodeParty(t, e.do("POST", path, "host", ""), http.StatusAccepted) // asking twice is fine

	for _, status := range []string{store.Scheduled, store.Finished, store.Cancelled} {
		id := e.insert("host", status)
		wantError(t, e.do("POST", "/api/parties/"+id.String()+"/end", "host", ""), http.StatusConflict, "conflict")
	}
	wantError(t, e.do("POST", "/api/parties/"+uuid.NewString()+"/end", "host", ""), http.StatusNotFound, "not_found")
	wantError(t, e.do("POST", "/api/parties/nope/end", "host", ""), http.StatusNotFound, "not_found")
}

func TestCancelParty(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, gateway.Config{})
	ctx := context.Background()
	created := decodeParty(t, e.do("POST", "/api/parties", "host", createBody(nil)), http.StatusCreated)
	path := "/api/parties/" + created.ID + "/cancel"

	wantError(t, e.do("POST", path, "guest", ""), http.StatusForbidden, "forbidden")
	p := decodeParty(t, e.do("POST", path, "host", ""), http.StatusOK)
	if p.Status != "CANCELLED" || p.StartedAt != nil {
		t.Errorf("answer %+v; want CANCELLED, never started", p)
	}
	if stored, err := e.parties.Get(ctx, uuid.MustParse(created.ID)); err != nil || stored.Status != store.Cancelled {
		t.Errorf("stored status %q, %v; want CANCELLED", stored.Status, err)
	}
	wantError(t, e.do("POST", path, "host", ""), http.StatusConflict, "conflict")
	for _, status := range []string{store.Ongoing, store.Finished} {
		id := e.insert("host", status)
		wantError(t, e.do("POST", "/api/parties/"+id.String()+"/cancel", "host", ""), http.StatusConflict, "conflict")
	}
	wantError(t, e.do("POST", "/api/parties/"+uuid.NewString()+"/cancel", "host", ""), http.StatusNotFound, "not_found")
	wantError(t, e.do("POST", "/api/parties/nope/cancel", "host", ""), http.StatusNotFound, "not_found")
}

func TestAPIRequiresAnIdentity(t *testing.T) {
	t.Parallel()
	const secret = "test-secret-of-at-least-32-bytes!"
	e := newAPIEnv(t, gateway.Config{AuthSecret: secret})
	id := e.insert("host", store.Ongoing).String()
	routes := [][2]string{{"POST", "/api/parties"}, {"GET", "/api/parties"}, {"GET", "/api/parties/" + id},
		{"POST", "/api/parties/" + id + "/end"}, {"POST", "/api/parties/" + id + "/cancel"}}
	expired, _ := auth.Sign(secret, "alice", "", time.Now().Add(-time.Minute))
	forged, _ := auth.Sign("another-secret-of-at-least-32-bytes", "alice", "", time.Now().Add(time.Hour))
	for _, r := range routes {
		for name, headers := range map[string][]string{
			"no identity":   nil,
			"expired token": {"Authorization", "Bearer " + expired},
			"forged token":  {"Authorization", "Bearer " + forged},
			"not bearer":    {"Authorization", "Basic YWxpY2U6eA=="},
		} {
			t.Run(r[0]+" "+r[1]+" "+name, func(t *testing.T) {
				wantError(t, e.do(r[0], r[1], "", createBody(nil), headers...), http.StatusUnauthorized, "unauthorized")
			})
		}
		// ?user= without dev auth is refused too.
		wantError(t, e.do(r[0], r[1], "alice", createBody(nil)), http.StatusUnauthorized, "unauthorized")
	}
	token, err := auth.Sign(secret, "alice", "Alice", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p := decodeParty(t, e.do("POST", "/api/parties", "", createBody(nil), "Authorization", "Bearer "+token), http.StatusCreated)
	if p.HostUserID != "alice" {
		t.Errorf("host %q, want the token's subject alice", p.HostUserID)
	}
	decodeParty(t, e.do("GET", "/api/parties/"+p.ID+"?token="+token, "", ""), http.StatusOK)
}

func TestUnknownRoutesAnswerJSON(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, gateway.Config{})
	id := uuid.NewString()
	wantError(t, e.do("GET", "/api/nothing", "u", ""), http.StatusNotFound, "not_found")
	wantError(t, e.do("GET", "/api/parties/"+id+"/extra", "u", ""), http.StatusNotFound, "not_found")
	for path, allow := range map[string]string{
		"/api/parties":                   "GET, POST, OPTIONS",
		"/api/parties/" + id:             "GET, OPTIONS",
		"/api/parties/" + id + "/cancel": "POST, OPTIONS",
	} {
		res := e.do("DELETE", path, "u", "")
		wantError(t, res, http.StatusMethodNotAllowed, "invalid_request")
		if got := res.header.Get("Allow"); got != allow {
			t.Errorf("DELETE %s: Allow %q, want %q", path, got, allow)
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	const app, evil = "https://app.example", "https://evil.example"
	preflight := []string{"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type"}
	for _, tc := range []struct {
		name    string
		allowed string
		method  string
		origin  string // "self" is the gateway's own origin
		user    string
		status  int // 403 means refused as forbidden
	}{
		{"default: preflight from elsewhere", "", "OPTIONS", evil, "", 403},
		{"default: preflight from the same origin", "", "OPTIONS", "self", "", 204},
		{"default: request from the same origin", "", "GET", "self", "u", 200},
		{"default: request from elsewhere", "", "GET", evil, "u", 403},
		{"default: request without Origin", "", "GET", "", "u", 200},
		{"list: preflight from a listed origin", app + ", https://other.example", "OPTIONS", app, "", 204},
		{"list: preflight from elsewhere", app, "OPTIONS", evil, "", 403},
		{"list: request from a listed origin", app, "GET", app, "u", 200},
		{"list: request from elsewhere", app, "GET", evil, "u", 403},
		{"list: request without Origin", app, "GET", "", "u", 200},
		{"any: preflight", "*", "OPTIONS", evil, "", 204},
		{"any: request", "*", "GET", evil, "u", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newAPIEnv(t, gateway.Config{AllowedOrigins: tc.allowed})
			origin := tc.origin
			if origin == "self" {
				origin = e.url
			}
			var headers []string
			if origin != "" {
				headers = append(headers, "Origin", origin)
			}
			if tc.method == "OPTIONS" {
				headers = append(headers, preflight...)
			}
			res := e.do(tc.method, "/api/parties", tc.user, "", headers...)
			if !strings.Contains(strings.Join(res.header.Values("Vary"), ","), "Origin") {
				t.Errorf("Vary %q lacks Origin", res.header.Values("Vary"))
			}
			if tc.status == http.StatusForbidden {
				wantError(t, res, http.StatusForbidden, "forbidden")
				return
			}
			if res.status != tc.status {
				t.Fatalf("status %d %s, want %d", res.status, res.body, tc.status)
			}
			if got := res.header.Get("Access-Control-Allow-Origin"); got != origin {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, origin)
			}
			if tc.method != "OPTIONS" {
				return
			}
			for h, want := range map[string]string{"Access-Control-Allow-Methods": "POST",
				"Access-Control-Allow-Headers": "Authorization", "Access-Control-Max-Age": "6"} {
				if !strings.Contains(res.header.Get(h), want) {
					t.Errorf("%s %q lacks %q", h, res.header.Get(h), want)
				}
			}
		})
	}
}
