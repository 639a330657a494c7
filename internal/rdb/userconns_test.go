package rdb

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/testenv"
)

// The script table of scripts_test.go does not list lua/user_conns.lua
// yet; this puts it under TestScriptHeaders and TestEveryScriptEmbedded.
var t0 = time.UnixMilli(1_800_000_000_000)

const ttl = 25 * time.Second

func TestUserConnsKeyTagsEveryUserApart(t *testing.T) {
	users := []string{"bob", "", "{", "}", "a}b", "{a}", "a}:conns", "wp:user:{x}", strings.Repeat("é", 64)}
	seen := map[string]string{}
	for _, u := range users {
		k := UserConnsKey(u)
		if other, ok := seen[k]; ok {
			t.Errorf("users %q and %q share key %q", u, other, k)
		}
		seen[k] = u
		rest, ok := strings.CutPrefix(k, "wp:user:{")
		tag, suffix, found := strings.Cut(rest, "}")
		if !ok || !found || suffix != ":conns" || strings.ContainsAny(tag, "{}") {
			t.Errorf("user %q: key %q is not wp:user:{<tag>}:conns with a tag free of braces", u, k)
		}
	}
}

// TestUserConnsTwoPodsRaceToTheCap: pods a and b each try to take more
// connections than the cap, at once; exactly cap of the tries succeed.
func TestUserConnsTwoPodsRaceToTheCap(t *testing.T) {
	c := testenv.StartRedisClient(t)
	ctx := context.Background()
	const limit, tries = 5, 20
	var (
		mu  sync.Mutex
		won = map[string]int{}
		wg  sync.WaitGroup
	)
	for _, pod := range []string{"a", "b"} {
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, _, err := AddUserConn(ctx, c, "racer", pod, 1, int64(i+1), limit, t0.Add(ttl), t0)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					won[pod]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if won["a"]+won["b"] != limit {
		t.Fatalf("%d connections taken (%v), want the cap, %d", won["a"]+won["b"], won, limit)
	}
	if got := counts(t, c, "racer", t0); !cmp.Equal(got, won) {
		t.Errorf("stored counts %v, want the ones taken, %v", got, won)
	}
	if ok, total, err := AddUserConn(ctx, c, "racer", "c", 1, 1, limit, t0.Add(ttl), t0); ok || total != limit || err != nil {
		t.Errorf("a third pod's add at the cap: %v, total %d, %v; want refused at %d", ok, total, err, limit)
	}
}

// TestUserConnsDeadPodDropsOut: a pod that stopped refreshing no longer
// counts once its entry expired, and the hash expires with its newest
// entry.
func TestUserConnsDeadPodDropsOut(t *testing.T) {
	c := testenv.StartRedisClient(t)
	ctx := context.Background()
	for i := range 2 {
		if ok, _, err := AddUserConn(ctx, c, "u", "dead", 1, int64(i+1), 2, t0.Add(ttl), t0); !ok || err != nil {
			t.Fatalf("add %d: %v, %v", i, ok, err)
		}
	}
	later := t0.Add(ttl - time.Millisecond)
	if ok, _, err := AddUserConn(ctx, c, "u", "live", 1, 1, 2, later.Add(ttl), later); ok || err != nil {
		t.Fatalf("add while the dead pod's entry is live: %v, %v; want refused", ok, err)
	}
	later = t0.Add(ttl)
	if ok, total, err := AddUserConn(ctx, c, "u", "live", 1, 1, 2, later.Add(ttl), later); !ok || total != 1 || err != nil {
		t.Fatalf("add once the dead pod's entry expired: %v, total %d, %v; want taken, total 1", ok, total, err)
	}
	if got, want := counts(t, c, "u", later), map[string]int{"live": 1}; !cmp.Equal(got, want) {
		t.Errorf("stored counts %v, want %v", got, want)
	}
	if at, err := c.PExpireTime(ctx, UserConnsKey("u")).Result(); err != nil || at != time.Duration(later.Add(ttl).UnixMilli())*time.Millisecond {
		t.Errorf("key expires at %v (%v), want with its newest entry at %v", at, err, later.Add(ttl).UnixMilli())
	}
}

// TestUserConnsReleaseRemovesTheEntry: a release lowers the pod's count,
// and the last one removes the entry, and with it the key.
func TestUserConnsReleaseRemovesTheEntry(t *testing.T) {
	c := testenv.StartRedisClient(t)
	ctx := context.Background()
	for i, step := range []struct {
		delta, total int
	}{{1, 1}, {1, 2}, {-1, 1}, {-1, 0}, {-1, 0}} {
		ok, total, err := AddUserConn(ctx, c, "u", "a", step.delta, int64(i+1), 2, t0.Add(ttl), t0)
		if !ok || total != step.total || err != nil {
			t.Fatalf("step %d, %+d: %v, total %d, %v; want total %d", i, step.delta, ok, total, err, step.total)
		}
	}
	if n, err := c.Exists(ctx, UserConnsKey("u")).Result(); n != 0 || err != nil {
		t.Errorf("key exists (%d, %v) after the last release", n, err)
	}
}

// TestUserConnsRefreshRewritesButNeverUndoes: a refresh writes the pod's
// true count over a wrong one, but leaves alone an entry that holds a
// change made after the refresh read its counts.
func TestUserConnsRefreshRewritesButNeverUndoes(t *testing.T) {
	c := testenv.StartRedisClient(t)
	ctx := context.Background()
	add := func(user string, delta int, seq int64) {
		t.Helper()
		if _, _, err := AddUserConn(ctx, c, user, "a", delta, seq, 0, t0.Add(ttl), t0); err != nil {
			t.Fatal(err)
		}
	}
	add("wrong", 1, 1)
	add("wrong", 1, 2)  // the pod holds 1: its release (seq 3) never reached Redis
	add("later", 1, 1)  // the refresh reads 1 at seq 4,
	add("later", 1, 5)  // a join lands before the refresh
	add("zeroed", 1, 1) // the pod's last connection's release (seq 2) failed
	// As after a restart of Redis: the refresh's pipeline must load the script.
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	err := SetUserConns(ctx, c, "a", map[string]int{"wrong": 1, "later": 1, "zeroed": 0}, 4, t0.Add(ttl), t0)
	if err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string]map[string]int{"wrong": {"a": 1}, "later": {"a": 2}, "zeroed": {}} {
		if got := counts(t, c, user, t0); !cmp.Equal(got, want) {
			t.Errorf("%s: stored counts %v, want %v", user, got, want)
		}
	}
}

// counts reads the user's live entries at now, pod -> count.
func counts(t *testing.T, c redis.Cmdable, user string, now time.Time) map[string]int {
	t.Helper()
	entries, err := c.HGetAll(context.Background(), UserConnsKey(user)).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for pod, v := range entries {
		var n, exp, seq int64
		if _, err := fmt.Sscanf(v, "%d:%d:%d", &n, &exp, &seq); err != nil {
			t.Fatalf("entry %s = %q: %v", pod, v, err)
		}
		if exp > now.UnixMilli() {
			out[pod] = int(n)
		}
	}
	return out
}
