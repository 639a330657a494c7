package flusher

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/watchparty/watchparty/internal/rdb"
)

// Unit tests of the flusher's logic against in-memory fakes of its ports
// (fakes_test.go): no Redis, no PostgreSQL.

// commits returns the journal's commit lines, each the ids it committed.
func commits(lines []string) []string {
	var out []string
	for _, l := range lines {
		if ids, ok := strings.CutPrefix(l, "commit "); ok {
			out = append(out, ids)
		}
	}
	return out
}

// TestUnitBisectionCountsOnlyTheBadEntry: a batch that fails permanently is
// bisected; only the entry that fails on its own gets a failure counted,
// and every other entry of the batch is committed and acknowledged.
func TestUnitBisectionCountsOnlyTheBadEntry(t *testing.T) {
	party := uuid.New()
	j := &journal{}
	src := newFakeSource(j, party, entries(party, 8))
	w := &fakeWriter{j: j, poison: map[string]bool{"6-0": true}}
	f := unitFlusher(unitConfig(8, 3), src, w, &fakeDLQ{j: j})
	n, err := f.FlushParty(context.Background(), party)
	if err != nil || n != 7 {
		t.Fatalf("FlushParty = %d, %v; want 7 written, no error", n, err)
	}
	if diff := cmp.Diff([]string{"6-0"}, src.counted); diff != "" {
		t.Errorf("entries counted as failing (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"6-0"}, src.pendingIDs()); diff != "" {
		t.Errorf("pending (-want +got):\n%s", diff)
	}
	checkAckedAfterCommit(t, j.all())
}

// TestUnitAckFailureLeavesCommittedEntriesPending: entries committed but
// not acknowledged (Redis failed the XACK) stay pending and the flush
// reports the error; the next cycle reads them first, writes them again
// (the writer skips what it stored) and acknowledges them. Nothing is
// counted as failing nor dead-lettered.
func TestUnitAckFailureLeavesCommittedEntriesPending(t *testing.T) {
	party := uuid.New()
	j := &journal{}
	src := newFakeSource(j, party, entries(party, 3))
	src.ackErr = errors.New("redis: connection reset")
	d := &fakeDLQ{j: j}
	f := unitFlusher(unitConfig(10, 1), src, &fakeWriter{j: j}, d)
	if _, err := f.FlushParty(context.Background(), party); err == nil {
		t.Fatal("FlushParty reported no error though the XACK failed")
	}
	if diff := cmp.Diff([]string{"1-0", "2-0", "3-0"}, src.pendingIDs()); diff != "" {
		t.Fatalf("pending after the failed XACK (-want +got):\n%s", diff)
	}
	if _, err := f.FlushParty(context.Background(), party); err != nil {
		t.Fatalf("second FlushParty: %v", err)
	}
	if got := src.pendingIDs(); len(got) != 0 {
		t.Errorf("still pending after the second cycle: %v", got)
	}
	if diff := cmp.Diff([]string{"1-0,2-0,3-0", "1-0,2-0,3-0"}, commits(j.all())); diff != "" {
		t.Errorf("commits (-want +got):\n%s", diff)
	}
	if len(src.counted) != 0 || len(d.batches) != 0 {
		t.Errorf("failures counted %v, dead-letter batches %d; want none", src.counted, len(d.batches))
	}
}

// TestUnitOwnPendingFirst: entries delivered to this consumer before (a
// flusher that stopped after reading them) are written before any new
// entry, so a party's events reach PostgreSQL in stream order.
func TestUnitOwnPendingFirst(t *testing.T) {
	party := uuid.New()
	j := &journal{}
	src := newFakeSource(j, party, entries(party, 5))
	if _, err := src.ReadNew(context.Background(), party, 2); err != nil { // read, never written
		t.Fatal(err)
	}
	f := unitFlusher(unitConfig(2, 1), src, &fakeWriter{j: j}, &fakeDLQ{j: j})
	if _, err := f.FlushParty(context.Background(), party); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1-0,2-0", "3-0,4-0", "5-0"}, commits(j.all())); diff != "" {
		t.Errorf("commits (-want +got):\n%s", diff)
	}
}

// TestUnitDeadLetterPushFailureKeepsTheEntry: when wp:dlq refuses a batch,
// the entry due for it is not acknowledged (it would be lost) nor counted
// as dead-lettered, and its failure count is kept, so the next cycle
// dead-letters it at once.
func TestUnitDeadLetterPushFailureKeepsTheEntry(t *testing.T) {
	party := uuid.New()
	j := &journal{}
	src := newFakeSource(j, party, entries(party, 4))
	d := &fakeDLQ{j: j, err: errors.New("redis: OOM")}
	f := unitFlusher(unitConfig(4, 1), src, &fakeWriter{j: j, poison: map[string]bool{"2-0": true}}, d)
	if _, err := f.FlushParty(context.Background(), party); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"2-0"}, src.pendingIDs()); diff != "" {
		t.Fatalf("pending after the failed push (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(f.metrics.DLQEvents); got != 0 {
		t.Errorf("dead-lettered events counter = %v after a failed push, want 0", got)
	}
	if got := src.failures["2-0"]; got != 1 {
		t.Errorf("failure count of 2-0 = %d after the failed push, want 1", got)
	}
	d.err = nil
	if _, err := f.FlushParty(context.Background(), party); err != nil {
		t.Fatal(err)
	}
	if len(d.batches) != 1 || len(src.pendingIDs()) != 0 {
		t.Errorf("after the second cycle: %d dead-letter batches, pending %v; want 1 batch, none pending",
			len(d.batches), src.pendingIDs())
	}
	if _, kept := src.failures["2-0"]; kept {
		t.Error("failure count of 2-0 kept after it was dead-lettered and acknowledged")
	}
	checkAckedAfterCommit(t, j.all())
}

// fakeMeter is the Redis side of the backlog gauges.
type fakeMeter struct {
	b       rdb.Backlog
	parties []uuid.UUID // what MeasureBacklog was asked about
}

func (m *fakeMeter) MeasureBacklog(_ context.Context, parties []uuid.UUID) (rdb.Backlog, error) {
	m.parties = parties
	return m.b, nil
}

// TestUnitBacklogGauges: the gauges show what the meter measured over the
// registered parties, and the flush lag is the age of the oldest of the
// streams' oldest unflushed entries; an id that is not a stream id leaves
// the gauges as they were.
func TestUnitBacklogGauges(t *testing.T) {
	party := uuid.New()
	j := &journal{}
	f := unitFlusher(unitConfig(10, 1), newFakeSource(j, party, nil), &fakeWriter{j: j}, &fakeDLQ{j: j})
	now := time.UnixMilli(100_000)
	f.metrics.now = func() time.Time { return now }
	m := &fakeMeter{b: rdb.Backlog{Buffered: 7, Active: 3, DLQLen: 2, Oldest: []string{"90000-0", "40000-5", "70000-1"}}}
	if err := f.refreshBacklog(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uuid.UUID{party}, m.parties); diff != "" {
		t.Errorf("parties measured (-want +got):\n%s", diff)
	}
	want := map[string]float64{"buffered": 7, "active": 3, "dlq": 2, "lag": 60}
	got := map[string]float64{"buffered": testutil.ToFloat64(f.metrics.Buffered),
		"active": testutil.ToFloat64(f.metrics.ActiveInstances), "dlq": testutil.ToFloat64(f.metrics.DLQLength),
		"lag": f.metrics.flushLag()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("gauges (-want +got):\n%s", diff)
	}
	m.b = rdb.Backlog{Buffered: 1, Oldest: []string{"not-an-id"}}
	if err := f.refreshBacklog(context.Background(), m); err == nil {
		t.Error("refreshBacklog accepted an oldest id that is not a stream id")
	}
	if got := testutil.ToFloat64(f.metrics.Buffered); got != 7 {
		t.Errorf("buffered gauge = %v after a failed refresh, want 7 kept", got)
	}
}
