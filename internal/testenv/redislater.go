package testenv

import "testing"

// ReserveRedis returns a throwaway redis-server that is not running yet, on a
// loopback port that was free a moment ago, so that a test can point
// processes at a Redis that is down and start it later with Start. Its
// arguments are those of StartRedis; it is killed when t ends.
func ReserveRedis(t testing.TB, extraArgs ...string) *Redis {
	t.Helper()
	bin, err := redisServerPath()
	if err != nil {
		t.Fatalf("reserve redis: %v", err)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatalf("reserve redis: %v", err)
	}
	r := &Redis{bin: bin, dir: t.TempDir(), port: port,
		args: append([]string{"--save", "", "--appendonly", "no"}, extraArgs...)}
	t.Cleanup(r.Kill)
	return r
}

// Start starts a stopped server on its port and returns once it answers
// PING; on failure it calls t.Fatal with the log.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	r.Restart(t)
}
