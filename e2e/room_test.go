package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitViewers waits for a viewers frame with count want.
func (c *client) waitViewers(want int, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f := c.nextOf("viewers", time.Until(deadline))
		if f.Raw == fmt.Sprintf(`{"type":"viewers","count":%d}`, want) {
			return
		}
	}
}

// TestViewersAcrossPods counts connections on two gateway processes and
// drops those of a pod killed with SIGKILL within 30 s.
func TestViewersAcrossPods(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a gateway and waits out its presence entry; skipped with -short")
	}
	s := sharedSystem(t)
	gw1, _ := s.gateway()
	gw2, p2 := s.gateway()
	party := s.party("ONGOING", "host")

	a := dial(t, gw1, party, "a")
	if w := a.nextOf("welcome", 5*time.Second); w.Viewers != 1 {
		t.Fatalf("first welcome says %d viewers", w.Viewers)
	}
	b := dial(t, gw2, party, "b")
	if w := b.nextOf("welcome", 5*time.Second); w.Viewers != 2 {
		t.Fatalf("second welcome says %d viewers", w.Viewers)
	}
	a.waitViewers(2, 5*time.Second)
	c := dial(t, gw2, party, "c")
	c.nextOf("welcome", 5*time.Second)
	a.waitViewers(3, 5*time.Second)
	if code, p := api(t, gw1, "GET", "/api/parties/"+party, "a", nil); code != 200 || p["viewers"] != 3.0 {
		t.Fatalf("REST viewers %v, want 3", p["viewers"])
	}

	p2.Signal(syscall.SIGKILL)
	killed := time.Now()
	a.waitViewers(1, 35*time.Second)
	t.Logf("a dead pod's viewers dropped out after %v", time.Since(killed).Round(time.Second))
	if code, p := api(t, gw1, "GET", "/api/parties/"+party, "a", nil); code != 200 || p["viewers"] != 1.0 {
		t.Fatalf("REST viewers %v after the kill, want 1", p["viewers"])
	}

	_ = a.conn.Close()
	eventually(t, 10*time.Second, "a's leave recorded", func() bool { return countEntries(t, s, party, "leave") == 1 })
	s.flushOnce()
	joins := s.rows(`SELECT user_id FROM watch_party_logs WHERE party_id = $1 AND action = 'join' ORDER BY user_id`, party)
	if fmt.Sprint(joins) != "[[a] [b] [c]]" {
		t.Fatalf("join rows %v", joins)
	}
}

// TestLikesPlaybackControlAndRateLimits checks what viewers receive and
// what lands in PostgreSQL for likes, playback control, the late joiner's
// playback state and rate limits.
func TestLikesPlaybackControlAndRateLimits(t *testing.T) {
	s := sharedSystem(t)
	gw, _ := s.gateway("WATCH_PARTY_CHAT_RATE=1", "WATCH_PARTY_CHAT_BURST=3")
	party := s.party("ONGOING", "host")
	host := dial(t, gw, party, "host")
	host.nextOf("welcome", 5*time.Second)
	v1 := dial(t, gw, party, "v1")
	v1.nextOf("welcome", 5*time.Second)
	v2 := dial(t, gw, party, "v2")
	v2.nextOf("welcome", 5*time.Second)

	// Likes: a repeat like is acked but counted once.
	v1.send(map[string]any{"type": "like", "id": "l1"})
	v1.send(map[string]any{"type": "like", "id": "l2"})
	v2.send(map[string]any{"type": "like", "id": "l1"})
	for _, c := range []*client{v1, v1, v2} {
		c.nextOf("ack", 5*time.Second)
	}
	for _, want := range []int64{1, 2} {
		f := host.nextOf("like", 5*time.Second)
		if f.Likes == nil || *f.Likes != want {
			t.Fatalf("like broadcast %s, want likes=%d", f.Raw, want)
		}
	}

	// Playback: host only.
	v1.send(map[string]any{"type": "seek", "id": "s1", "position_ms": 999})
	if f := v1.nextOf("error", 5*time.Second); f.Code != "forbidden" {
		t.Fatalf("non-host seek: %s", f.Raw)
	}
	host.send(map[string]any{"type": "play", "id": "p1", "position_ms": 1000})
	host.send(map[string]any{"type": "pause", "id": "p2", "position_ms": 5000})
	pause := v2.nextOf("pause", 5*time.Second)
	late := dial(t, gw, party, "late")
	w := late.nextOf("welcome", 5*time.Second)
	if want := fmt.Sprintf(`"playback":{"state":"paused","position_ms":5000,"updated_at":"%s"}`, pause.TS); !strings.Contains(w.Raw, want) {
		t.Fatalf("late joiner's welcome %s lacks %s", w.Raw, want)
	}

	// Rate limits: burst 3 at 1/s for v2's chats; v1 is not affected.
	for i := range 6 {
		v2.send(map[string]any{"type": "chat", "id": fmt.Sprintf("r%d", i), "text": "spam"})
	}
	accepted, limited := 0, 0
	for range 6 {
		f := v2.next(5 * time.Second)
		for f.Type != "ack" && f.Type != "error" {
			f = v2.next(5 * time.Second)
		}
		if f.Type == "ack" {
			accepted++
		} else if f.Code == "rate_limited" {
			limited++
		}
	}
	if accepted < 3 || limited < 2 || accepted+limited != 6 {
		t.Fatalf("%d chats accepted and %d rate limited; want the burst of 3 (one more may refill) and the rest limited", accepted, limited)
	}
	v1.send(map[string]any{"type": "chat", "id": "ok", "text": "not limited"})
	if f := v1.nextOf("ack", 5*time.Second); f.ID != "ok" {
		t.Fatalf("v1's chat: %s", f.Raw)
	}

	s.flushOnce()
	likes := s.rows(`SELECT user_id FROM watch_party_likes WHERE party_id = $1 ORDER BY user_id`, party)
	if fmt.Sprint(likes) != "[[v1] [v2]]" {
		t.Fatalf("likes rows %v", likes)
	}
	logs := s.rows(`SELECT user_id, action, position_ms FROM watch_party_logs WHERE party_id = $1 AND action IN ('play','pause','seek') ORDER BY position_ms`, party)
	if fmt.Sprint(logs) != "[[host play 1000] [host pause 5000]]" {
		t.Fatalf("playback rows %v", logs)
	}
	if n := s.count(`SELECT count(*) FROM watch_party_chats WHERE party_id = $1`, party); n != accepted+1 {
		t.Fatalf("%d chats stored, want the %d accepted", n, accepted+1)
	}
}

// TestEveryoneControlsPlayback: with control "everyone" any viewer may seek.
func TestEveryoneControlsPlayback(t *testing.T) {
	s := sharedSystem(t)
	gw, _ := s.gateway()
	party := s.party("ONGOING", "host")
	if _, err := s.db.Exec(context.Background(), `UPDATE watch_parties SET control = 'everyone' WHERE id = $1`, party); err != nil {
		t.Fatal(err)
	}
	v := dial(t, gw, party, "v")
	v.nextOf("welcome", 5*time.Second)
	v.send(map[string]any{"type": "seek", "id": "s", "position_ms": 42})
	if f := v.nextOf("seek", 5*time.Second); f.UserID != "v" || *f.PositionMS != 42 {
		t.Fatalf("seek broadcast %s", f.Raw)
	}
}
