package flusher

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/watchparty/watchparty/internal/shutdown"
	"github.com/watchparty/watchparty/internal/testenv"
)

// unitFlusher returns a flusher over in-memory fakes of its source, writer
// and dead-letter list, all recording into one journal.
func unitFlusher(cfg Config, src *fakeSource, w *fakeWriter, d *fakeDLQ) *Flusher {
	return assemble(cfg, src, w, d, NewMetrics(), testenv.Logger())
}

func unitConfig(batch, maxDeliveries int) Config {
	cfg := testConfig()
	cfg.BatchSize, cfg.MaxDeliveries = batch, maxDeliveries
	return cfg
}

// checkAckedAfterCommit fails t for an entry acknowledged before it was
// committed or dead-lettered.
func checkAckedAfterCommit(t *testing.T, lines []string) {
	t.Helper()
	done := map[string]bool{}
	for _, l := range lines {
		verb, ids, _ := strings.Cut(l, " ")
		for _, id := range strings.Split(ids, ",") {
			switch verb {
			case "commit", "dlq":
				done[id] = true
			case "ack":
				if !done[id] {
					t.Errorf("entry %s acknowledged before it was committed or dead-lettered; journal:\n%s",
						id, strings.Join(lines, "\n"))
				}
			}
		}
	}
}

func TestUnitFlushPartyDeadLettering(t *testing.T) {
	all := func(n int) []string {
		var out []string
		for _, e := range entries(uuid.Nil, n) {
			out = append(out, e.ID)
		}
		return out
	}
	without := func(ids []string, drop ...string) []string {
		var out []string
		for _, id := range ids {
			if !strings.Contains(" "+strings.Join(drop, " ")+" ", " "+id+" ") {
				out = append(out, id)
			}
		}
		return out
	}
	tests := []struct {
		name          string
		events, batch int
		maxDeliveries int
		cycles        int
		poison        []string // refused by the database on their own
		undecodable   []string // not decodable by this flusher
		noParty       bool     // the party has no row: every write fails permanently
		down          bool     // the database is unreachable
		wantStored    []string
		wantDLQ       [][]string // stream ids of each dead-letter batch
		wantRaw       int        // raw entries among them
		wantPending   []string
		wantErr       bool
	}{
		{name: "good events are written and acknowledged", events: 5, batch: 2, maxDeliveries: 2, cycles: 1,
			wantStored: all(5)},
		{name: "poison isolated: good events of its batch written, it stays pending below MAX_DELIVERIES",
			events: 8, batch: 8, maxDeliveries: 3, cycles: 1, poison: []string{"3-0"},
			wantStored: without(all(8), "3-0"), wantPending: []string{"3-0"}},
		{name: "poison still pending after MAX_DELIVERIES-1 failures",
			events: 8, batch: 8, maxDeliveries: 3, cycles: 2, poison: []string{"3-0"},
			wantStored: without(all(8), "3-0"), wantPending: []string{"3-0"}},
		{name: "poison dead-lettered alone at MAX_DELIVERIES failures",
			events: 8, batch: 8, maxDeliveries: 3, cycles: 3, poison: []string{"3-0"},
			wantStored: without(all(8), "3-0"), wantDLQ: [][]string{{"3-0"}}},
		{name: "two poison events of one batch are two dead-letter batches",
			events: 8, batch: 4, maxDeliveries: 1, cycles: 1, poison: []string{"2-0", "7-0"},
			wantStored: without(all(8), "2-0", "7-0"), wantDLQ: [][]string{{"2-0"}, {"7-0"}}},
		{name: "party without its row: the whole batch is one dead-letter batch",
			events: 4, batch: 10, maxDeliveries: 1, cycles: 1, noParty: true,
			wantDLQ: [][]string{all(4)}},
		{name: "party without its row: pending below MAX_DELIVERIES",
			events: 4, batch: 10, maxDeliveries: 2, cycles: 1, noParty: true, wantPending: all(4)},
		{name: "undecodable entry dead-lettered raw, the others written",
			events: 3, batch: 10, maxDeliveries: 1, cycles: 1, undecodable: []string{"2-0"},
			wantStored: []string{"1-0", "3-0"}, wantDLQ: [][]string{{"2-0"}}, wantRaw: 1},
		{name: "database down: nothing acknowledged, nothing dead-lettered",
			events: 4, batch: 10, maxDeliveries: 1, cycles: 5, down: true, wantPending: all(4), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			party := uuid.New()
			j := &journal{}
			es := entries(party, tt.events)
			for i, e := range es {
				for _, id := range tt.undecodable {
					if e.ID == id {
						es[i].Err = errors.New("unknown event type")
						es[i].Fields = map[string]string{"e": "{}"}
					}
				}
			}
			src := newFakeSource(j, party, es)
			w := &fakeWriter{j: j, poison: map[string]bool{}, noParty: tt.noParty, down: tt.down}
			for _, id := range tt.poison {
				w.poison[id] = true
			}
			d := &fakeDLQ{j: j}
			f := unitFlusher(unitConfig(tt.batch, tt.maxDeliveries), src, w, d)
			var err error
			for range tt.cycles {
				_, err = f.FlushParty(context.Background(), party)
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("last FlushParty error = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantStored, w.stored); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
			var gotDLQ [][]string
			raw := 0
			for _, b := range d.batches {
				gotDLQ = append(gotDLQ, batchIDs(b))
				raw += len(b.Raw)
				if b.PartyID != party.String() {
					t.Errorf("dead-letter batch of party %q, want %s", b.PartyID, party)
				}
			}
			if diff := cmp.Diff(tt.wantDLQ, gotDLQ); diff != "" {
				t.Errorf("dead-letter batches (-want +got):\n%s", diff)
			}
			if raw != tt.wantRaw {
				t.Errorf("raw dead-lettered entries = %d, want %d", raw, tt.wantRaw)
			}
			if diff := cmp.Diff(tt.wantPending, src.pendingIDs()); diff != "" {
				t.Errorf("pending (-want +got):\n%s", diff)
			}
			wantDLQEvents := 0
			for _, b := range tt.wantDLQ {
				wantDLQEvents += len(b)
			}
			if got := testutil.ToFloat64(f.metrics.DLQEvents); got != float64(wantDLQEvents) {
				t.Errorf("dead-lettered events counter = %v, want %d", got, wantDLQEvents)
			}
			checkAckedAfterCommit(t, j.all())
		})
	}
}

func TestUnitBackoff(t *testing.T) {
	fail := errors.New("cycle failed")
	tests := []struct {
		name     string
		interval time.Duration
		errs     []error
		want     []time.Duration
	}{
		{name: "success keeps the interval", interval: 5 * time.Second, errs: []error{nil, nil},
			want: []time.Duration{5 * time.Second, 5 * time.Second}},
		{name: "failures double from the interval up to a minute, success resets",
			interval: 5 * time.Second, errs: []error{fail, fail, fail, fail, fail, nil, fail},
			want: []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute,
				5 * time.Second, 10 * time.Second}},
		{name: "an interval above a minute is the ceiling", interval: 2 * time.Minute, errs: []error{fail, fail},
			want: []time.Duration{2 * time.Minute, 2 * time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.FlushInterval = tt.interval
			f := unitFlusher(cfg, nil, nil, nil)
			wait := cfg.Interval()
			var got []time.Duration
			for _, err := range tt.errs {
				wait = f.nextWait(wait, err)
				got = append(got, wait)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnitStopSignals: quit lets the batch in flight commit and be
// acknowledged and writes nothing more; abort gives the batch in flight
// up, unacknowledged. Batches are of two events; the reader may have read
// up to two ahead (one waiting in the channel, one being handed over): they
// stay pending.
func TestUnitStopSignals(t *testing.T) {
	tests := []struct {
		name        string
		stop        func(st *shutdown.Stopper)
		wantStored  []string
		wantPending []string // at least these, in order, first
	}{
		{name: "quit: the batch in flight is finished, the rest waits",
			stop: func(st *shutdown.Stopper) { st.Quit() }, wantStored: []string{"1-0", "2-0"}},
		{name: "abort: the batch in flight is given up, pending",
			stop: func(st *shutdown.Stopper) { st.Abort() }, wantPending: []string{"1-0", "2-0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			party := uuid.New()
			j := &journal{}
			src := newFakeSource(j, party, entries(party, 8))
			st := shutdown.New(time.Hour, nil)
			defer st.Abort()
			w := &fakeWriter{j: j}
			w.onWrite = func(ctx context.Context) error {
				tt.stop(st)
				return ctx.Err()
			}
			f := unitFlusher(unitConfig(2, 2), src, w, &fakeDLQ{j: j})
			_, _ = f.flushAll(st.Signals())
			if diff := cmp.Diff(tt.wantStored, w.stored); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
			pending := src.pendingIDs()
			if len(pending) > 6 || len(pending) < len(tt.wantPending) ||
				!cmp.Equal(tt.wantPending, pending[:len(tt.wantPending)], cmpopts.EquateEmpty()) {
				t.Errorf("pending = %v, want %v then at most the batches read ahead", pending, tt.wantPending)
			}
			var acked []string
			for _, l := range j.all() {
				if ids, ok := strings.CutPrefix(l, "ack "); ok {
					acked = append(acked, strings.Split(ids, ",")...)
				}
			}
			if diff := cmp.Diff(tt.wantStored, acked); diff != "" {
				t.Errorf("acknowledged (-want +got):\n%s", diff)
			}
			checkAckedAfterCommit(t, j.all())
		})
	}
}

func TestUnitFailedIsLoggedOnce(t *testing.T) {
	party := uuid.New()
	j := &journal{}
	src := newFakeSource(j, party, entries(party, 2))
	f := unitFlusher(unitConfig(10, 1), src, &fakeWriter{j: j, down: true}, &fakeDLQ{j: j})
	_, err := f.FlushOnce(context.Background())
	if err == nil {
		t.Fatal("a cycle with a failed write reported no error")
	}
	if u := Unlogged(err); u != nil {
		t.Errorf("the write failure, logged where it happened, is reported as not logged: %v", u)
	}
	listErr := errors.New("list registered streams: connection refused")
	if u := Unlogged(errors.Join(err, listErr)); !errors.Is(u, listErr) || errors.Is(u, errTransient) {
		t.Errorf("Unlogged(join) = %v, want only %v", u, listErr)
	}
	if got := testutil.ToFloat64(f.metrics.FailedFlushes); got != 1 {
		t.Errorf("failed flushes = %v, want 1", got)
	}
}
