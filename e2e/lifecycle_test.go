package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// api calls the gateway's REST API as user (dev auth).
func api(t testing.TB, addr, method, path, user string, body any) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&buf).Encode(body)
	}
	req, err := http.NewRequest(method, "http://"+addr+path+"?user="+url.QueryEscape(user), &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestPartyLifecycle creates a party through the REST API, sees 409 before
// it starts, joins once the scheduler starts it, chats and likes on two
// gateways, and sees it end on time: every viewer gets party_ended, and
// right after the end (the flush interval is an hour) PostgreSQL holds
// every event, the party is FINISHED with its peak and its keys are gone.
func TestPartyLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the scheduler to start and end a party; skipped with -short")
	}
	s := sharedSystem(t)
	gw1, _ := s.gateway()
	gw2, _ := s.gateway()
	s.flusher("WATCH_PARTY_SCHEDULER_INTERVAL=200ms", "WATCH_PARTY_FLUSH_INTERVAL=1h",
		"WATCH_PARTY_VIEWER_SAMPLE_INTERVAL=1s")

	start := time.Now().Add(1500 * time.Millisecond).UTC()
	end := start.Add(5 * time.Second)
	code, created := api(t, gw1, "POST", "/api/parties", "host", map[string]any{
		"title": "Premiere", "video_url": "https://example.com/v.mp4",
		"start_time": start.Format(time.RFC3339Nano), "end_time": end.Format(time.RFC3339Nano)})
	if code != http.StatusCreated {
		t.Fatalf("create party: %d %v", code, created)
	}
	party := created["id"].(string)
	if _, resp, err := tryDial(t, wsURL(gw2, party, url.Values{"user": {"early"}}), nil); err == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("join before the start: %v %s, want 409", err, statusOf(resp))
	}

	var viewers []*client
	join := func(gw, user string) *client {
		t.Helper()
		var c *client
		eventually(t, 5*time.Second, user+" joins once the party started", func() bool {
			var err error
			c, _, err = tryDial(t, wsURL(gw, party, url.Values{"user": {user}}), nil)
			return err == nil
		})
		c.user = user
		c.nextOf("welcome", 5*time.Second)
		viewers = append(viewers, c)
		return c
	}
	host := join(gw1, "host")
	join(gw2, "ann")
	join(gw1, "bob")
	join(gw2, "cy")
	if code, p := api(t, gw2, "GET", "/api/parties/"+party, "ann", nil); code != 200 || p["status"] != "ONGOING" {
		t.Fatalf("party while running: %d %v", code, p)
	}

	acked := map[string]bool{}
	for i, c := range viewers {
		c.send(map[string]any{"type": "chat", "id": "m", "text": fmt.Sprintf("hi from %s", c.user)})
		if i%2 == 0 {
			c.send(map[string]any{"type": "like", "id": "l"})
		}
	}
	host.send(map[string]any{"type": "play", "id": "p", "position_ms": 0})
	for _, c := range viewers {
		want := 1
		if c.user == "host" || c.user == "bob" {
			want = 2
		}
		if c == host {
			want = 3
		}
		for range want {
			acked[c.user+"/"+c.nextOf("ack", 5*time.Second).ID] = true
		}
	}
	if code, p := api(t, gw1, "GET", "/api/parties/"+party, "ann", nil); code != 200 || p["likes"] != 2.0 || p["viewers"] != 4.0 {
		t.Fatalf("live numbers: %d likes=%v viewers=%v, want 2 and 4", code, p["likes"], p["viewers"])
	}

	for _, c := range viewers {
		c.nextOf("party_ended", time.Until(end)+5*time.Second)
		if code := c.closeCode(5 * time.Second); code != 1000 {
			t.Fatalf("%s closed with %d after party_ended, want 1000", c.user, code)
		}
	}
	ended := time.Now()
	eventually(t, 3*time.Second, "the final flush and cleanup", func() bool {
		n, err := s.rdb.Exists(context.Background(), streamKey(party), "wp:{"+party+"}:likers").Result()
		return err == nil && n == 0
	})
	t.Logf("keys removed %v after the viewers were told", time.Since(ended))
	if n := s.count(`SELECT count(*) FROM watch_party_chats WHERE party_id = $1`, party); n != 4 {
		t.Fatalf("%d chats stored, want 4", n)
	}
	if n := s.count(`SELECT count(*) FROM watch_party_likes WHERE party_id = $1`, party); n != 2 {
		t.Fatalf("%d likes stored, want 2", n)
	}
	if n := s.count(`SELECT count(*) FROM watch_party_logs WHERE party_id = $1 AND action = 'play'`, party); n != 1 {
		t.Fatalf("%d play rows, want 1", n)
	}
	row := s.rows(`SELECT status, peak_viewers, started_at IS NOT NULL, finished_at IS NOT NULL FROM watch_parties WHERE id = $1`, party)
	if fmt.Sprint(row) != "[[FINISHED 4 true true]]" {
		t.Fatalf("party row %v, want FINISHED with peak 4", row)
	}
	if n := s.count(`SELECT count(*) FROM watch_party_viewer_counts WHERE party_id = $1 AND viewers BETWEEN 0 AND 4`, party); n == 0 {
		t.Fatal("no viewer-count samples recorded")
	}
	if member, _ := s.rdb.SIsMember(context.Background(), "wp:streams", party).Result(); member {
		t.Fatal("finished party still registered for flushing")
	}
	if _, resp, err := tryDial(t, wsURL(gw2, party, url.Values{"user": {"late"}}), nil); err == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("join after the end: %v %s, want 409", err, statusOf(resp))
	}
}
