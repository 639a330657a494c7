package checks

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

// root is the repository root. testenv builds the binaries of the module
// it finds from the working directory, so the tests run from the root.
var root string

func TestMain(m *testing.M) {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	root = filepath.Clean(filepath.Join(wd, "..", ".."))
	if err := os.Chdir(root); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testenv.Main(m)
}

// repo returns the absolute path of a file of the repository.
func repo(path string) string { return filepath.Join(root, filepath.FromSlash(path)) }

// stack is a gateway and a flusher running as processes over throwaway
// Redis and PostgreSQL.
type stack struct {
	redisURL, dbURL    string
	gateway, flusher   string // host:port
	gatewayP, flusherP *testenv.Proc
}

// startStack starts the binaries with the usual settings plus extra
// (applied to both).
func startStack(t *testing.T, extra ...string) *stack {
	t.Helper()
	s := &stack{
		redisURL: "redis://" + testenv.StartRedis(t).Addr() + "/0",
		dbURL:    testenv.NewDatabase(t, store.Migrate),
	}
	env := append([]string{"REDIS_URL=" + s.redisURL, "DATABASE_URL=" + s.dbURL, "LOG_FORMAT=json"}, extra...)
	gw, fl := freeAddr(t), freeAddr(t)
	s.gatewayP = testenv.StartProc(t, "gateway", append([]string{"GATEWAY_ADDR=" + gw, "WATCH_PARTY_DEV_AUTH=true"}, env...))
	s.flusherP = testenv.StartProc(t, "flusher", append([]string{"FLUSHER_METRICS_ADDR=" + fl}, env...), "run")
	s.gatewayP.WaitHTTP(t, "http://"+gw+"/readyz", 30*time.Second)
	s.flusherP.WaitHTTP(t, "http://"+fl+"/readyz", 30*time.Second)
	s.gateway, s.flusher = gw, fl
	return s
}

func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}

// scrape is one /metrics answer: the families with their kinds, and every
// series (name and labels as written) with its value.
type scrape struct {
	kinds  map[string]string
	series map[string]float64
}

func scrapeMetrics(t *testing.T, addr string) scrape {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: %s", addr, res.Status)
	}
	s := scrape{kinds: map[string]string{}, series: map[string]float64{}}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			s.kinds[f[2]] = f[3]
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%s/metrics line %q: %v", addr, line, err)
		}
		s.series[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return s
}

// exported reports whether name is a series name of a family in s: the
// family itself, or a histogram's _bucket, _sum and _count.
func (s scrape) exported(name string) bool {
	if _, ok := s.kinds[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && (s.kinds[base] == "histogram" || s.kinds[base] == "summary") {
			return true
		}
	}
	return false
}

var exported struct {
	sync.Mutex
	gateway, flusher *scrape
}

// exportedNames scrapes both binaries of a fresh stack, once per test
// binary; the answer is shared by the tests that compare files with what
// the binaries export.
func exportedNames(t *testing.T) (gateway, flusher scrape) {
	t.Helper()
	exported.Lock()
	defer exported.Unlock()
	if exported.gateway == nil {
		s := startStack(t)
		gw, fl := scrapeMetrics(t, s.gateway), scrapeMetrics(t, s.flusher)
		exported.gateway, exported.flusher = &gw, &fl
	}
	return *exported.gateway, *exported.flusher
}
