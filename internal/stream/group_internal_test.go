package stream

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/rdb"
)

// fakeGroup is group "flushers" on one stream, as far as Trim and Backlog
// read it; it records the trim bound it was given.
type fakeGroup struct {
	groupRedis // methods Trim and Backlog do not call panic
	info       rdb.GroupInfo
	found      bool
	oldest     string
	length     int64
	trimmedTo  string
}

func (g *fakeGroup) Group(context.Context, uuid.UUID) (rdb.GroupInfo, bool, error) {
	return g.info, g.found, nil
}
func (g *fakeGroup) OldestPending(context.Context, uuid.UUID) (string, error) { return g.oldest, nil }
func (g *fakeGroup) Len(context.Context, uuid.UUID) (int64, error)            { return g.length, nil }
func (g *fakeGroup) TrimBefore(_ context.Context, _ uuid.UUID, minID string) error {
	g.trimmedTo = minID
	return nil
}

// TestTrimBound: Trim never drops an entry still pending or not yet
// delivered to the group, nor one younger than keep: the bound is the
// lowest of the oldest pending id, the entry after the group's last
// delivered one and now-keep.
func TestTrimBound(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	const keep = 100 * time.Second // now-keep is 900000-0
	tests := []struct {
		name   string
		group  rdb.GroupInfo
		found  bool
		oldest string
		want   string // "" for no trim
	}{
		{name: "no group: nothing trimmed", found: false, want: ""},
		{name: "all acknowledged, old: up to the entry after the last delivered",
			group: rdb.GroupInfo{LastDeliveredID: "500000-3"}, found: true, want: "500000-4"},
		{name: "all acknowledged, recent: up to now-keep",
			group: rdb.GroupInfo{LastDeliveredID: "950000-0"}, found: true, want: "900000-0"},
		{name: "pending: up to the oldest pending entry",
			group: rdb.GroupInfo{LastDeliveredID: "800000-0", Pending: 2}, found: true, oldest: "300000-7",
			want: "300000-7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &fakeGroup{info: tt.group, found: tt.found, oldest: tt.oldest}
			c := &Consumer{rdb: g, name: "test"}
			if err := c.Trim(context.Background(), uuid.New(), keep, now); err != nil {
				t.Fatal(err)
			}
			if g.trimmedTo != tt.want {
				t.Errorf("trimmed before %q, want %q", g.trimmedTo, tt.want)
			}
		})
	}
}

// TestBacklogCount: the backlog is the group's lag plus its pending
// entries, or the stream's length when no flusher read it yet or Redis
// cannot tell the lag.
func TestBacklogCount(t *testing.T) {
	tests := []struct {
		name  string
		group rdb.GroupInfo
		found bool
		want  int64
	}{
		{name: "lag and pending", group: rdb.GroupInfo{Lag: 5, Pending: 3}, found: true, want: 8},
		{name: "no group: the whole stream", found: false, want: 42},
		{name: "lag unknown: the whole stream", group: rdb.GroupInfo{Lag: -1, Pending: 3}, found: true, want: 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Consumer{rdb: &fakeGroup{info: tt.group, found: tt.found, length: 42}, name: "test"}
			got, err := c.Backlog(context.Background(), uuid.New())
			if err != nil || got != tt.want {
				t.Errorf("Backlog = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}
