package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/watchparty/watchparty/internal/gateway"
	"github.com/watchparty/watchparty/internal/store"
)

func TestCreateCapsActivePartiesPerHost(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, gateway.Config{MaxActivePartiesPerHost: 2})
	e.insert("alice", store.Finished) // over: does not count
	e.insert("alice", store.Ongoing)
	first := decodeParty(t, e.do("POST", "/api/parties", "alice", createBody(nil)), http.StatusCreated)
	msg := wantError(t, e.do("POST", "/api/parties", "alice", createBody(nil)), http.StatusConflict, "conflict")
	if !strings.Contains(msg, "2") {
		t.Errorf("message %q does not name the limit", msg)
	}
	decodeParty(t, e.do("POST", "/api/parties", "bob", createBody(nil)), http.StatusCreated)
	decodeParty(t, e.do("POST", "/api/parties/"+first.ID+"/cancel", "alice", ""), http.StatusOK)
	decodeParty(t, e.do("POST", "/api/parties", "alice", createBody(nil)), http.StatusCreated)
}

// TestCreateCapIsAtomic sends many creates at once: no more than the cap
// may pass.
func TestCreateCapIsAtomic(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, gateway.Config{MaxActivePartiesPerHost: 3})
	const tries = 12
	codes := make(chan int, tries)
	for range tries {
		go func() {
			req, _ := http.NewRequest("POST", e.url+"/api/parties?user=racer", strings.NewReader(createBody(nil)))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			res.Body.Close()
			codes <- res.StatusCode
		}()
	}
	created := 0
	for range tries {
		switch c := <-codes; c {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
		default:
			t.Errorf("status %d", c)
		}
	}
	if created != 3 {
		t.Fatalf("%d parties created at once under a cap of 3", created)
	}
}

func TestCreateBoundsDuration(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, gateway.Config{MaxPartyDuration: 2 * time.Hour})
	now := time.Now()
	long := createBody(func(m map[string]any) {
		m["start_time"] = now.Add(time.Hour).Format(time.RFC3339)
		m["end_time"] = now.Add(3*time.Hour + time.Second).Format(time.RFC3339)
	})
	msg := wantError(t, e.do("POST", "/api/parties", "alice", long), http.StatusBadRequest, "invalid_request")
	if !strings.Contains(msg, "2h") {
		t.Errorf("message %q does not name the longest duration", msg)
	}
	ok := createBody(func(m map[string]any) {
		m["start_time"] = now.Add(time.Hour).Format(time.RFC3339)
		m["end_time"] = now.Add(3 * time.Hour).Format(time.RFC3339)
	})
	decodeParty(t, e.do("POST", "/api/parties", "alice", ok), http.StatusCreated)
}

func TestBodyCapSetting(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, gateway.Config{MaxBodyBytes: 1024})
	big := createBody(set("video_url", "https://v.example/"+strings.Repeat("a", 1100)))
	msg := wantError(t, e.do("POST", "/api/parties", "alice", big), http.StatusBadRequest, "invalid_request")
	if !strings.Contains(msg, "1024 bytes") {
		t.Errorf("message %q does not name the cap", msg)
	}
	decodeParty(t, e.do("POST", "/api/parties", "alice", createBody(nil)), http.StatusCreated)
}
