package stream

// SetBeforeSnapshot makes f call fn after subscribing to a party and
// before reading where its stream stands.
func SetBeforeSnapshot(f *Feed, fn func()) { f.beforeSnapshot = fn }

// QueuedLen returns how many appends wait in a's queue.
func QueuedLen(a *Appender) int { return len(a.reqs) }
