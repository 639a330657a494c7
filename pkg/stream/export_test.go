package stream

// QueuedLen returns how many appends wait in a's queue.
func QueuedLen(a *Appender) int { return len(a.reqs) }
