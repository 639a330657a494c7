// Package shutdown is the two-phase stop of both binaries: first quit (stop
// taking work), then, a grace period later, abort (give up the work in
// flight).
package shutdown

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrGraceExpired is the cause of the abort signal when the grace period
// after Quit ran out before Abort was called.
var ErrGraceExpired = errors.New("shutdown grace period expired")

// Signals is what a worker watches: Quit ends when it must stop taking new
// work, Abort when it must give up the work in flight. Abort never ends
// before Quit.
type Signals struct {
	Quit  context.Context
	Abort context.Context
}

// Together returns signals that both end with ctx: quitting is aborting
// (a one-shot flush, or a pass that has nothing to finish gracefully).
func Together(ctx context.Context) Signals { return Signals{Quit: ctx, Abort: ctx} }

// Stopper holds the two signals and the one timer between them. Its
// methods are safe for concurrent use.
type Stopper struct {
	quit, abort       context.Context
	cancelQuit        context.CancelFunc
	cancelAbort       context.CancelCauseFunc
	grace             time.Duration
	expired           func()
	afterFunc         func(time.Duration, func()) (stop func() bool)
	mu                sync.Mutex
	quitting, aborted bool
	stopTimer         func() bool
}

// New returns a running Stopper: Quit arms a timer of grace that aborts,
// and calls expired (if not nil) when it fires. The signals do not derive
// from any parent context: they end only through Quit, Abort or the timer.
func New(grace time.Duration, expired func()) *Stopper {
	return newStopper(grace, expired, func(d time.Duration, f func()) func() bool {
		return time.AfterFunc(d, f).Stop
	})
}

func newStopper(grace time.Duration, expired func(), afterFunc func(time.Duration, func()) func() bool) *Stopper {
	s := &Stopper{grace: grace, expired: expired, afterFunc: afterFunc}
	s.quit, s.cancelQuit = context.WithCancel(context.Background())
	s.abort, s.cancelAbort = context.WithCancelCause(context.Background())
	return s
}

// Signals returns the stopper's quit and abort signals.
func (s *Stopper) Signals() Signals { return Signals{Quit: s.quit, Abort: s.abort} }

// Quit ends the quit signal and arms the abort timer. Calling it again, or
// after Abort, does nothing.
func (s *Stopper) Quit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quitting || s.aborted {
		return
	}
	s.quitting = true
	s.cancelQuit()
	s.stopTimer = s.afterFunc(s.grace, s.expire)
}

// QuitWhen calls Quit when ctx ends; the returned stop undoes that, as
// context.AfterFunc's does.
func (s *Stopper) QuitWhen(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, s.Quit)
}

// Abort ends both signals now and disarms the timer: the work is over, or
// must be given up at once. Calling it again does nothing.
func (s *Stopper) Abort() { s.abortWith(context.Canceled, false) }

func (s *Stopper) expire() { s.abortWith(ErrGraceExpired, true) }

func (s *Stopper) abortWith(cause error, byTimer bool) {
	s.mu.Lock()
	if s.aborted {
		s.mu.Unlock()
		return
	}
	s.aborted = true
	if s.stopTimer != nil && !byTimer {
		s.stopTimer()
	}
	s.cancelQuit()
	s.cancelAbort(cause)
	s.mu.Unlock()
	if byTimer && s.expired != nil {
		s.expired()
	}
}
