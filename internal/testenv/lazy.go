package testenv

import "sync"

// lazy runs a function on first use and hands its result, error included, to
// every caller, so that a failed start fails each test that needed it rather
// than only the first. It is safe for concurrent use; callers wait while the
// function runs.
type lazy[T any] struct {
	mu   sync.Mutex
	done bool
	val  T
	err  error
}

// get runs f unless an earlier call already did, and returns its result.
func (l *lazy[T]) get(f func() (T, error)) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.val, l.err = f()
		l.done = true
	}
	return l.val, l.err
}

// peek returns the value if a call succeeded, without running anything.
func (l *lazy[T]) peek() (T, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.val, l.done && l.err == nil
}
