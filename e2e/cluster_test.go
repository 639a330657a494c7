package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

// startCluster starts a three-master Redis Cluster of throwaway servers and
// returns its seed list ("host:port,host:port,host:port").
func startCluster(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli is needed to form a cluster")
	}
	var addrs []string
	for i := range 3 {
		r := testenv.StartRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", fmt.Sprintf("nodes-%d.conf", i))
		addrs = append(addrs, r.Addr())
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	eventually(t, 20*time.Second, "cluster state ok on every node", func() bool {
		for _, addr := range addrs {
			n := redis.NewClient(&redis.Options{Addr: addr})
			info, err := n.ClusterInfo(context.Background()).Result()
			_ = n.Close()
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				return false
			}
		}
		return true
	})
	return strings.Join(addrs, ",")
}

// TestRedisCluster runs two gateways and a flusher against a three-node
// Redis Cluster: parties on different slots, every key of a party on its
// own slot, fan-out and flush as on a single server.
func TestRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Redis Cluster; skipped with -short")
	}
	seeds := startCluster(t)
	s := newSystem(t, "redis://"+strings.Split(seeds, ",")[0], testenv.NewDatabase(t, store.Migrate))
	s.redisURL = seeds // the binaries take the seed list
	gw1, _ := s.gateway()
	gw2, _ := s.gateway()

	var parties []string
	for range 4 {
		parties = append(parties, s.party("ONGOING", "host"))
	}
	sent := map[string]string{} // event id -> text
	for i, party := range parties {
		a := dial(t, gw1, party, "a")
		a.nextOf("welcome", 10*time.Second)
		b := dial(t, gw2, party, "b")
		b.nextOf("welcome", 10*time.Second)
		for j := range 5 {
			text := fmt.Sprintf("party %d message %d", i, j)
			a.send(map[string]any{"type": "chat", "id": fmt.Sprint(j), "text": text})
			ack := a.nextOf("ack", 10*time.Second)
			sent[ack.EventID] = text
			if f := b.nextOf("chat", 10*time.Second); f.EventID != ack.EventID {
				t.Fatalf("b on the other gateway got %s, want event %s", f.Raw, ack.EventID)
			}
		}
	}
	s.flushOnce()
	got := map[string]string{}
	for _, r := range s.rows(`SELECT event_id, body FROM watch_party_chats`) {
		got[r[0]] = r[1]
	}
	if fmt.Sprint(got) != fmt.Sprint(sent) {
		t.Fatalf("stored chats %v, want %v", got, sent)
	}
}

// TestRedisClusterSlotMigrationKeepsViewersFed moves the slot of a party
// (its stream, its other keys and its sharded channel all hash to
// {<party>}) to another node while viewers on two gateways watch. The node
// that loses the slot ends their subscriptions (sunsubscribe); the
// gateways must subscribe again on the new owner and catch up from the
// stream, so the viewers receive every chat sent after the move, in order,
// each once.
func TestRedisClusterSlotMigrationKeepsViewersFed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Redis Cluster; skipped with -short")
	}
	seeds := startCluster(t)
	s := newSystem(t, "redis://"+strings.Split(seeds, ",")[0], testenv.NewDatabase(t, store.Migrate))
	s.redisURL = seeds
	gw1, _ := s.gateway()
	gw2, p2 := s.gateway()
	party := s.party("ONGOING", "host")

	sender := newChatter(gw1, party, "sender")
	sc, err := sender.connect(t)
	if err != nil {
		t.Fatal(err)
	}
	var watchers []*client
	for i, addr := range []string{gw1, gw2} {
		w := dial(t, addr, party, fmt.Sprintf("watcher-%d", i))
		w.nextOf("welcome", 10*time.Second)
		watchers = append(watchers, w)
	}
	var before []string
	for i := range 5 {
		before = append(before, chatAckedResending(t, sender, sc, fmt.Sprintf("before-%d", i)))
	}
	for _, w := range watchers {
		if got := chatTexts(t, w, len(before)); fmt.Sprint(got) != fmt.Sprint(before) {
			t.Fatalf("%s got %q before the move, want %q", w.user, got, before)
		}
	}

	from, to := migrateSlot(t, seeds, "{"+party+"}")
	t.Logf("moved the party's slot from %s to %s", from, to)

	var after []string
	for i := range 20 {
		after = append(after, chatAckedResending(t, sender, sc, fmt.Sprintf("after-%d", i)))
	}
	for _, w := range watchers {
		if got := chatTexts(t, w, len(after)); fmt.Sprint(got) != fmt.Sprint(after) {
			t.Fatalf("%s got %q after the move, want %q\ngateway log:\n%s", w.user, got, after,
				strings.Join(p2.Lines(`"component":"feed"`), "\n"))
		}
	}
	// Nothing is delivered twice: the next chat after the last one is a
	// new one.
	last := chatAckedResending(t, sender, sc, "last")
	for _, w := range watchers {
		if got := chatTexts(t, w, 1); got[0] != last {
			t.Fatalf("%s got %q after the chats sent after the move, want %q", w.user, got[0], last)
		}
	}
	t.Logf("gateway 2 logged %d resubscriptions", len(p2.Lines("resubscribing")))
}

// chatAckedResending sends chat cid until it is acknowledged, resending it
// under the same id while the gateway answers unavailable (as clients do),
// and returns its text.
func chatAckedResending(t testing.TB, ch *chatter, c *client, cid string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, err := ch.chat(c, cid)
		if err != nil {
			t.Fatalf("chat %s: %v", cid, err)
		}
		if code == "" {
			return chatText(ch.user, cid)
		}
		if code != "unavailable" || time.Now().After(deadline) {
			t.Fatalf("chat %s answered %q", cid, code)
		}
		time.Sleep(50 * time.Millisecond) // pacing the resends
	}
}

// chatTexts returns the texts of the next n chats w receives.
func chatTexts(t testing.TB, w *client, n int) []string {
	t.Helper()
	var got []string
	deadline := time.After(15 * time.Second)
	for len(got) < n {
		select {
		case f, ok := <-w.frames:
			if !ok {
				t.Fatalf("%s was disconnected after %q", w.user, got)
			}
			if f.Type == "chat" {
				got = append(got, f.Text)
			}
		case <-deadline:
			t.Fatalf("%s got only %q within 15s, want %d chats", w.user, got, n)
		}
	}
	return got
}

// migrateSlot moves the slot of key to another master the way resharding
// does (IMPORTING, MIGRATING, MIGRATE of every key, SETSLOT NODE on every
// node) and returns the old and new owners' addresses.
func migrateSlot(t testing.TB, seeds, key string) (string, string) {
	t.Helper()
	ctx := context.Background()
	nodes := map[string]*redis.Client{} // by node id
	addrs := map[string]string{}
	for _, addr := range strings.Split(seeds, ",") {
		c := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = c.Close() })
		id, err := c.Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			t.Fatal(err)
		}
		nodes[id], addrs[id] = c, addr
	}
	var one *redis.Client
	for _, c := range nodes {
		one = c
	}
	slot, err := one.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	slots, err := one.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	var src string
	for _, r := range slots {
		if int64(r.Start) <= slot && slot <= int64(r.End) {
			src = r.Nodes[0].ID
		}
	}
	var dst string
	for id := range nodes {
		if id != src {
			dst = id
			break
		}
	}
	if src == "" || nodes[src] == nil || dst == "" {
		t.Fatalf("no owner of slot %d among %v", slot, addrs)
	}
	do := func(c *redis.Client, args ...any) {
		t.Helper()
		if err := c.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	do(nodes[dst], "CLUSTER", "SETSLOT", slot, "IMPORTING", src)
	do(nodes[src], "CLUSTER", "SETSLOT", slot, "MIGRATING", dst)
	host, port, _ := strings.Cut(addrs[dst], ":")
	for {
		keys, err := nodes[src].ClusterGetKeysInSlot(ctx, int(slot), 100).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		do(nodes[src], args...)
	}
	do(nodes[dst], "CLUSTER", "SETSLOT", slot, "NODE", dst)
	do(nodes[src], "CLUSTER", "SETSLOT", slot, "NODE", dst)
	for id, c := range nodes {
		if id != src && id != dst {
			do(c, "CLUSTER", "SETSLOT", slot, "NODE", dst)
		}
	}
	return addrs[src], addrs[dst]
}
