package stream

// SetBeforeSnapshot makes f call fn after subscribing to a party and
// before reading where its stream stands.
func SetBeforeSnapshot(f *Feed, fn func()) { f.beforeSnapshot = fn }

// QueuedLen returns how many appends wait in a's queues.
func QueuedLen(a *Appender) int {
	n := 0
	for _, q := range a.queues {
		n += len(q)
	}
	return n
}
