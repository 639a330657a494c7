package e2e

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// TestSentinelFailover runs a gateway and a flusher against a Redis master
// with two replicas behind three Sentinels (REDIS_URL in Sentinel form),
// kills the master with SIGKILL while viewers chat, and expects both
// processes to carry on against the promoted replica without a restart:
// new chats are acked, broadcast to a viewer connected throughout, and
// reach PostgreSQL.
//
// Just before the kill the replicas freeze (SIGSTOP, as hung or
// partitioned hosts) and the master drops their links (CLIENT KILL TYPE
// replica), so chats acked after that exist on the master alone; the kill
// follows once 20 more chats were answered, and the replicas are thawed
// (SIGCONT) for the Sentinels to promote one. Without
// WATCH_PARTY_MIN_REPLICAS_ACK those chats are lost, and the test reports
// how many acknowledged chats are in neither the promoted master's stream
// nor PostgreSQL (everything on the promoted master is flushed before
// counting); with WATCH_PARTY_MIN_REPLICAS_ACK=1 they are answered
// unavailable instead and resent, so none may be lost.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Sentinel failover; skipped with -short")
	}
	for _, min := range []int{0, 1} {
		t.Run("min_replicas_ack="+strconv.Itoa(min), func(t *testing.T) { testSentinelFailover(t, min) })
	}
}

func testSentinelFailover(t *testing.T, minReplicas int) {
	g := testenv.StartSentinelGroup(t, testenv.SentinelConfig{Replicas: 2, Sentinels: 3,
		DownAfter: time.Second, FailoverTimeout: 5 * time.Second})
	s := newSystem(t, g.Master.URL(), testenv.NewDatabase(t, store.Migrate))
	// The test's own client follows the Sentinels too.
	opt, err := redis.ParseFailoverURL(g.URL())
	if err != nil {
		t.Fatal(err)
	}
	s.redisURL, s.rdb = g.URL(), redis.NewFailoverClient(opt)
	t.Cleanup(func() { _ = s.rdb.Close() })

	party := s.party("ONGOING", "host")
	replicas := "WATCH_PARTY_MIN_REPLICAS_ACK=" + strconv.Itoa(minReplicas)
	addr, gw := s.gateway(replicas)
	flAddr, fl := s.flusher("WATCH_PARTY_CONSUMER_NAME=survivor", "WATCH_PARTY_FLUSH_INTERVAL=100ms")

	watcher := dial(t, addr, party, "watcher")
	watcher.nextOf("welcome", 5*time.Second)
	cr := startCrowd(t, addr, party, 6)

	cr.waitAcks(t, 200, 30*time.Second, "200 chats acknowledged before the failover")
	old := g.Master.Addr()
	master := redis.NewClient(&redis.Options{Addr: old})
	defer master.Close()
	for _, r := range g.Replicas {
		r.Freeze()
	}
	if err := master.ClientKillByFilter(context.Background(), "TYPE", "replica").Err(); err != nil {
		t.Fatalf("cut the replicas' links: %v", err)
	}
	cut := cr.acks.Load() + cr.refusals.Load()
	eventually(t, 10*time.Second, "20 chats answered after the replicas' links were cut", func() bool {
		cr.check(t)
		return cr.acks.Load()+cr.refusals.Load() >= cut+20
	})
	g.Master.Kill()
	killed := cr.acks.Load()
	killedAt := time.Now()
	for _, r := range g.Replicas {
		r.Thaw()
	}
	promoted := g.WaitForFailover(t, old, 60*time.Second)
	t.Logf("Sentinels promoted %s %v after the kill", promoted, time.Since(killedAt).Round(time.Millisecond))
	cr.waitAcks(t, killed+200, 60*time.Second, "200 chats acknowledged after the failover")
	t.Logf("failover to acks flowing again: %v", time.Since(killedAt).Round(time.Millisecond))
	cr.finish(t)

	// Neither process restarted: the gateway is ready, and a chat sent now
	// reaches the watcher connected since before the kill.
	for _, p := range []*testenv.Proc{gw, fl} {
		if code, err := p.Wait(0); err == nil {
			t.Fatalf("%s exited with %d:\n%s", p.Name, code, p.Output())
		}
	}
	cr.reachesWatcher(t, gw, addr, watcher)

	// The running flusher flushes everything the promoted master holds.
	fl.WaitHTTP(t, "http://"+flAddr+"/readyz", 10*time.Second)
	eventually(t, 30*time.Second, "the running flusher to flush the promoted master's stream", func() bool {
		n, err := stream.NewConsumer(s.rdb, "probe").Backlog(context.Background(), uuid.MustParse(party))
		return err == nil && n == 0 && pendingCount(t, s, party) == 0
	})

	stored := map[string]bool{}
	for _, r := range s.rows(`SELECT event_id FROM watch_party_chats WHERE party_id = $1`, party) {
		stored[r[0]] = true
	}
	acked, lost := 0, 0
	for _, ch := range cr.chatters {
		_, ack := ch.snapshot()
		for _, id := range ack {
			acked++
			if !stored[id] {
				lost++
			}
		}
	}
	t.Logf("WATCH_PARTY_MIN_REPLICAS_ACK=%d: %d chats acked (%d before the kill), %d stored, %d acked but lost; "+
		"%d unavailable answers, %d dropped connections", minReplicas, acked, killed, len(stored), lost,
		cr.refusals.Load(), cr.cutoffs.Load())
	if minReplicas > 0 && lost > 0 {
		t.Fatalf("%d acknowledged chats lost in the failover with WATCH_PARTY_MIN_REPLICAS_ACK=%d", lost, minReplicas)
	}
}
