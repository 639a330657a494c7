package shutdown

import (
	"context"
	"errors"
	"testing"
	"time"
)

// manualTimer stands in for time.AfterFunc: the test fires it.
type manualTimer struct {
	armed   time.Duration
	fire    func()
	stopped bool
}

func (m *manualTimer) afterFunc(d time.Duration, f func()) func() bool {
	m.armed, m.fire = d, f
	return func() bool { m.stopped = true; return true }
}

func ended(ctx context.Context) bool { return ctx.Err() != nil }

func TestUnitStopper(t *testing.T) {
	tests := []struct {
		name        string
		steps       func(s *Stopper, m *manualTimer)
		quit, abort bool
		cause       error
		expired     bool
		timerArmed  bool
		timerStop   bool
	}{
		{name: "running", steps: func(*Stopper, *manualTimer) {}},
		{name: "quit arms the grace timer", steps: func(s *Stopper, _ *manualTimer) { s.Quit() },
			quit: true, timerArmed: true},
		{name: "quit twice arms one timer", steps: func(s *Stopper, m *manualTimer) { s.Quit(); m.armed = 0; s.Quit() },
			quit: true},
		{name: "grace expires", steps: func(s *Stopper, m *manualTimer) { s.Quit(); m.fire() },
			quit: true, abort: true, cause: ErrGraceExpired, expired: true, timerArmed: true},
		{name: "abort before the grace ends disarms the timer", steps: func(s *Stopper, _ *manualTimer) { s.Quit(); s.Abort() },
			quit: true, abort: true, cause: context.Canceled, timerArmed: true, timerStop: true},
		{name: "abort without quit ends both", steps: func(s *Stopper, _ *manualTimer) { s.Abort() },
			quit: true, abort: true, cause: context.Canceled},
		{name: "quit after abort arms nothing", steps: func(s *Stopper, _ *manualTimer) { s.Abort(); s.Quit() },
			quit: true, abort: true, cause: context.Canceled},
		{name: "timer after abort changes nothing", steps: func(s *Stopper, m *manualTimer) { s.Quit(); f := m.fire; s.Abort(); f() },
			quit: true, abort: true, cause: context.Canceled, timerArmed: true, timerStop: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m manualTimer
			expired := false
			s := newStopper(3*time.Second, func() { expired = true }, m.afterFunc)
			tt.steps(s, &m)
			sig := s.Signals()
			if got := ended(sig.Quit); got != tt.quit {
				t.Errorf("quit ended = %v, want %v", got, tt.quit)
			}
			if got := ended(sig.Abort); got != tt.abort {
				t.Errorf("abort ended = %v, want %v", got, tt.abort)
			}
			if tt.abort && !errors.Is(context.Cause(sig.Abort), tt.cause) {
				t.Errorf("abort cause = %v, want %v", context.Cause(sig.Abort), tt.cause)
			}
			if expired != tt.expired {
				t.Errorf("expired callback called = %v, want %v", expired, tt.expired)
			}
			if got := m.armed == 3*time.Second; got != tt.timerArmed {
				t.Errorf("timer armed with the grace = %v (armed %v), want %v", got, m.armed, tt.timerArmed)
			}
			if m.stopped != tt.timerStop {
				t.Errorf("timer stopped = %v, want %v", m.stopped, tt.timerStop)
			}
		})
	}
}

func TestUnitQuitWhen(t *testing.T) {
	var m manualTimer
	s := newStopper(time.Second, nil, m.afterFunc)
	ctx, cancel := context.WithCancel(context.Background())
	defer s.QuitWhen(ctx)()
	if ended(s.Signals().Quit) {
		t.Fatal("quit before the parent ended")
	}
	cancel()
	select {
	case <-s.Signals().Quit.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("quit did not follow the parent context")
	}
	if ended(s.Signals().Abort) {
		t.Error("abort ended with quit")
	}
}

func TestUnitTogether(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sig := Together(ctx)
	cancel()
	if !ended(sig.Quit) || !ended(sig.Abort) {
		t.Error("signals of Together did not both end with their context")
	}
}
