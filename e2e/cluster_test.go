package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/pkg/store"
	"github.com/watchparty/watchparty/pkg/testenv"
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
