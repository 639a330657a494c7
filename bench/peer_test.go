package bench

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/watchparty/watchparty/internal/testenv"
)

func flagInt(name string, v int, usage string) *int { return flag.Int(name, v, usage) }
func flagString(name, v, usage string) *string      { return flag.String(name, v, usage) }
func flagDuration(name string, v time.Duration, usage string) *time.Duration {
	return flag.Duration(name, v, usage)
}

// intList is a flag of comma-separated integers.
type intList []int

func (l *intList) String() string {
	s := make([]string, len(*l))
	for i, n := range *l {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	var out intList
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

func flag2ints(name, def, usage string) *intList {
	l := &intList{}
	_ = l.Set(def)
	flag.Var(l, name, usage)
	return l
}

func freePort(b *testing.B) int {
	b.Helper()
	p, err := testenv.FreePort()
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// startGatewayProc runs the gateway binary on env's Redis and PostgreSQL,
// with the rate limits and connection caps that would refuse the load off.
func startGatewayProc(ctx context.Context, b *testing.B, env *env) *server {
	b.Helper()
	port, debug := freePort(b), freePort(b)
	party := insertParties(ctx, b, env.pool, 1)[0]
	var parties []string
	for _, id := range insertParties(ctx, b, env.pool, *fanoutClients) {
		parties = append(parties, id.String())
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := testenv.StartProc(b, "gateway", []string{
		"REDIS_URL=" + env.redisURL, "DATABASE_URL=" + env.dbURL,
		"GATEWAY_ADDR=" + addr, "GATEWAY_DEBUG_ADDR=127.0.0.1:" + strconv.Itoa(debug),
		"WATCH_PARTY_DEV_AUTH=true", "WATCH_PARTY_CHAT_RATE=0", "WATCH_PARTY_LIKE_RATE=0",
		"WATCH_PARTY_JOIN_RATE=0", "WATCH_PARTY_IP_JOIN_RATE=0", "WATCH_PARTY_MAX_CONNS_PER_IP=0",
		"WATCH_PARTY_MAX_CONNS=0", "WATCH_PARTY_MAX_BUFFERED_EVENTS=1000000000", "LOG_LEVEL=error",
		"WATCH_PARTY_SOCKETIO_PING_INTERVAL=1h", // the load tool answers no Engine.IO ping
	})
	p.WaitHTTP(b, "http://"+addr+"/readyz", 30*time.Second)
	return &server{name: "gateway", pid: p.Pid(), debug: "http://127.0.0.1:" + strconv.Itoa(debug),
		proto: gatewayProto{addr: addr},
		channel: func(i int) string {
			if i < 0 {
				return party.String()
			}
			return parties[i]
		}}
}

// gatewayProto is the gateway's protocol (docs/protocol.md).
type gatewayProto struct{ addr string }

func (g gatewayProto) dial(ctx context.Context, party, user string) (*websocket.Conn, error) {
	url := fmt.Sprintf("ws://%s/ws/parties/%s?user=%s", g.addr, party, user)
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("read welcome: %w", err)
		}
		if bytes.HasPrefix(msg, []byte(`{"type":"welcome"`)) {
			return conn, nil
		}
	}
}

func (gatewayProto) publish(buf []byte, _ string, id int, text string) []byte {
	buf = append(buf, `{"type":"chat","id":"c`...)
	buf = strconv.AppendInt(buf, int64(id), 10)
	buf = append(buf, `","text":"`...)
	buf = append(buf, text...)
	return append(buf, `"}`...)
}

func (gatewayProto) messages(msg []byte, fn func([]byte)) { fn(msg) }

var (
	gwAck   = []byte(`{"type":"ack","id":"c`)
	gwError = []byte(`{"type":"error"`)
	gwChat  = []byte(`{"type":"chat"`)
)

func (gatewayProto) classify(line []byte) (msgKind, int) {
	switch {
	case bytes.HasPrefix(line, gwChat):
		return kindDelivery, 0
	case bytes.HasPrefix(line, gwAck):
		return kindAck, leadingInt(line[len(gwAck):])
	case bytes.HasPrefix(line, gwError):
		return kindError, 0
	}
	return kindOther, 0
}

func leadingInt(b []byte) int {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// peerDir is where make bench-peer installs Centrifugo.
func peerDir() string {
	if d := os.Getenv("WATCHPARTY_BENCH_BIN"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "watchparty-bench", "bin")
}

func peerBinary() string {
	p := filepath.Join(peerDir(), "centrifugo")
	if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
		return p
	}
	return ""
}

// centrifugoConfig is Centrifugo v6's configuration for this job, as a team
// would run it: Redis engine, a namespace "party" with history, in which
// anonymous clients may subscribe and publish (and nowhere else).
func centrifugoConfig(port int, redisAddr string) map[string]any {
	return map[string]any{
		"http_server": map[string]any{"address": "127.0.0.1", "port": port},
		"log":         map[string]any{"level": "error"},
		"engine":      map[string]any{"type": "redis", "redis": map[string]any{"address": redisAddr}},
		"client": map[string]any{
			"allow_anonymous_connect_without_token": true,
			"allowed_origins":                       []string{"*"},
		},
		"channel": map[string]any{
			"namespaces": []any{map[string]any{
				"name":                          "party",
				"history_size":                  1000,
				"history_ttl":                   "300s",
				"force_recovery":                true,
				"allow_subscribe_for_anonymous": true,
				"allow_subscribe_for_client":    true,
				"allow_publish_for_anonymous":   true,
				"allow_publish_for_client":      true,
			}},
		},
		"health": map[string]any{"enabled": true},
		// pprof handlers, only when the benchmark takes profiles
		"debug": map[string]any{"enabled": *fanoutProfile != ""},
	}
}

// startCentrifugo runs the installed Centrifugo on env's Redis.
func startCentrifugo(ctx context.Context, b *testing.B, env *env, path string) *server {
	b.Helper()
	port := freePort(b)
	dir := b.TempDir()
	cfg, _ := json.MarshalIndent(centrifugoConfig(port, strings.TrimSuffix(env.redisURL, "/0")), "", "  ")
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		b.Fatal(err)
	}
	p := testenv.StartExec(b, "centrifugo", path, nil, "--config", cfgPath)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	p.WaitHTTP(b, base+"/health", 30*time.Second)
	version := "unknown version"
	if info, err := buildinfo.ReadFile(path); err == nil {
		version = info.Main.Path + " " + info.Main.Version + " built with " + info.GoVersion
	}
	say(b, "peer: %s, config %s", version, compactJSON(cfg))
	return &server{name: "centrifugo", pid: p.Pid(), debug: base,
		proto: centrifugoProto{url: "ws://127.0.0.1:" + strconv.Itoa(port) + "/connection/websocket"},
		channel: func(i int) string {
			if i < 0 {
				return "party:fanout"
			}
			return "party:ingest" + strconv.Itoa(i)
		}}
}

func compactJSON(b []byte) string {
	var buf bytes.Buffer
	_ = json.Compact(&buf, b)
	return buf.String()
}

// centrifugoProto is Centrifugo's JSON client protocol: commands with ids,
// replies with the same id, pushes without; several per WebSocket message,
// newline-separated; an empty object is the server's ping, answered with
// one.
type centrifugoProto struct{ url string }

func (c centrifugoProto) dial(ctx context.Context, channel, _ string) (*websocket.Conn, error) {
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, c.url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", c.url, err)
	}
	cmds := []string{`{"id":1,"connect":{"name":"bench"}}`,
		`{"id":2,"subscribe":{"channel":"` + channel + `"}}`}
	for i, cmd := range cmds {
		if err := conn.WriteMessage(websocket.TextMessage, []byte(cmd)); err != nil {
			conn.Close()
			return nil, err
		}
		if err := c.awaitReply(conn, i+1); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return conn, nil
}

func (c centrifugoProto) awaitReply(conn *websocket.Conn, id int) error {
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetReadDeadline(time.Time{})
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return fmt.Errorf("await reply %d: %w", id, err)
		}
		var found error
		done := false
		c.messages(msg, func(line []byte) {
			if k, rid := c.classify(line); rid == id && (k == kindAck || k == kindError) {
				done = true
				if k == kindError {
					found = errors.New("centrifugo refused: " + string(line))
				}
			}
		})
		if done {
			return found
		}
	}
}

func (centrifugoProto) publish(buf []byte, channel string, id int, text string) []byte {
	buf = append(buf, `{"id":`...)
	buf = strconv.AppendInt(buf, int64(id)+10, 10) // 1 and 2 are connect and subscribe
	buf = append(buf, `,"publish":{"channel":"`...)
	buf = append(buf, channel...)
	buf = append(buf, `","data":{"text":"`...)
	buf = append(buf, text...)
	return append(buf, `"}}}`...)
}

func (centrifugoProto) messages(msg []byte, fn func([]byte)) {
	for len(msg) > 0 {
		i := bytes.IndexByte(msg, '\n')
		if i < 0 {
			fn(msg)
			return
		}
		if i > 0 {
			fn(msg[:i])
		}
		msg = msg[i+1:]
	}
}

var (
	cfPush = []byte(`{"push":`)
	cfID   = []byte(`{"id":`)
	cfErr  = []byte(`"error":`)
)

func (centrifugoProto) classify(line []byte) (msgKind, int) {
	switch {
	case len(line) == 2 && line[0] == '{' && line[1] == '}':
		return kindPing, 0
	case bytes.HasPrefix(line, cfPush):
		if bytes.Contains(line, textMarker) {
			return kindDelivery, 0
		}
		return kindOther, 0
	case bytes.HasPrefix(line, cfID):
		id := leadingInt(line[len(cfID):])
		if id > 10 {
			id -= 10
		}
		if bytes.Contains(line, cfErr) {
			return kindError, id
		}
		return kindAck, id
	}
	return kindOther, 0
}

// profileServer takes a CPU profile of srv for d from its pprof handlers
// (GATEWAY_DEBUG_ADDR, Centrifugo's debug endpoint) into -fanout.profile,
// as <server><suffix>; the returned func waits for it.
func profileServer(b *testing.B, srv *server, suffix string, d time.Duration) func() {
	return fetchProfile(b, srv, "profile", suffix, d)
}

// fetchProfile saves srv's pprof profile kind (profile, allocs, …) over
// the next d as <server><suffix> in -fanout.profile; the returned func
// waits for it.
func fetchProfile(b *testing.B, srv *server, kind, suffix string, d time.Duration) func() {
	b.Helper()
	if err := os.MkdirAll(*fanoutProfile, 0o755); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(*fanoutProfile, srv.name+suffix)
	done := make(chan struct{})
	go func() {
		defer close(done)
		url := fmt.Sprintf("%s/debug/pprof/%s?seconds=%d", srv.debug, kind, int(d.Seconds()))
		resp, err := http.Get(url)
		if err != nil {
			say(b, "profile %s: %v", srv.name, err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
		say(b, "%s profile of %s written to %s", kind, srv.name, path)
	}()
	return func() { <-done }
}

// heapProfile saves srv's heap profile after a forced collection (so it
// shows what n connected viewers keep alive, not garbage), its
// runtime.MemStats as text and its goroutines into -fanout.profile.
func heapProfile(b *testing.B, srv *server, n int) {
	b.Helper()
	if err := os.MkdirAll(*fanoutProfile, 0o755); err != nil {
		b.Fatal(err)
	}
	for q, name := range map[string]string{"heap?gc=1": "heap.%d.pprof", "heap?debug=1": "heap.%d.txt",
		"goroutine?debug=1": "goroutine.%d.txt"} {
		resp, err := http.Get(srv.debug + "/debug/pprof/" + q)
		if err != nil {
			say(b, "heap profile of %s: %v", srv.name, err)
			return
		}
		name := srv.name + "." + fmt.Sprintf(name, n)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_ = os.WriteFile(filepath.Join(*fanoutProfile, name), body, 0o644)
	}
}
