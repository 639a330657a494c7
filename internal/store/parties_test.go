package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/watchparty/watchparty/internal/store"
)

// partyWith inserts a party of host in status, starting now.
func partyWith(t *testing.T, db *pgxpool.Pool, host, status string) uuid.UUID {
	t.Helper()
	now := time.Now()
	p, err := store.NewParties(db).Create(context.Background(), store.Party{Title: "t", VideoURL: "https://v.example/x",
		HostUserID: host, StartTime: now, EndTime: now.Add(time.Hour), Status: status})
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

func TestCreateReturnsTheStoredRow(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	parties := store.NewParties(db)
	ctx := context.Background()
	start := time.Date(2030, 1, 2, 3, 4, 5, 123_456_000, time.UTC)
	created, err := parties.Create(ctx, store.Party{Title: "Movie night", VideoURL: "https://v.example/m.mp4",
		HostUserID: "alice", StartTime: start, EndTime: start.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == uuid.Nil || created.Status != store.Scheduled || created.Control != store.ControlHost ||
		created.CreatedAt.IsZero() || created.EndRequestedAt != nil || created.StartedAt != nil {
		t.Errorf("created %+v; want a new id, SCHEDULED, control host, created_at set, no start or end request", created)
	}
	if !created.StartTime.Equal(start) || !created.EndTime.Equal(start.Add(2*time.Hour)) {
		t.Errorf("times %v..%v, want %v..%v", created.StartTime, created.EndTime, start, start.Add(2*time.Hour))
	}
	got, err := parties.Get(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("Get after Create (-created +got):\n%s", diff)
	}
	_, err = parties.Create(ctx, store.Party{Title: "x", VideoURL: "v", HostUserID: "a", StartTime: start, EndTime: start})
	if err == nil {
		t.Error("a party with end_time = start_time was stored")
	}
}

func TestListIsNewestFirstAndFilters(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ctx := context.Background()
	// Parties created at these minutes past base, in this insertion order;
	// even positions are ONGOING.
	minutes := []int{3, 0, 6, 2, 5, 1, 4}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	byMinute := make([]uuid.UUID, len(minutes))
	for i, m := range minutes {
		status := store.Scheduled
		if i%2 == 0 {
			status = store.Ongoing
		}
		id := partyWith(t, db, "h", status)
		at := base.Add(time.Duration(m) * time.Minute)
		if _, err := db.Exec(ctx, `UPDATE watch_parties SET created_at = $2 WHERE id = $1`, id, at); err != nil {
			t.Fatal(err)
		}
		byMinute[m] = id
	}
	newest := func(ms ...int) []uuid.UUID {
		var out []uuid.UUID
		for _, m := range ms {
			out = append(out, byMinute[m])
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		status string
		limit  int
		want   []uuid.UUID
	}{
		{"all", "", 100, newest(6, 5, 4, 3, 2, 1, 0)},
		{"limited", "", 3, newest(6, 5, 4)},
		{"ongoing", store.Ongoing, 100, newest(6, 5, 4, 3)},
		{"scheduled", store.Scheduled, 2, newest(2, 1)},
		{"none finished", store.Finished, 100, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := store.NewParties(db).List(ctx, tc.status, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var ids []uuid.UUID
			for _, p := range got {
				ids = append(ids, p.ID)
			}
			if diff := cmp.Diff(tc.want, ids); diff != "" {
				t.Errorf("List(%q, %d) ids (-want +got):\n%s", tc.status, tc.limit, diff)
			}
		})
	}
}

func TestRequestEnd(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	parties := store.NewParties(db)
	ctx := context.Background()
	live := partyWith(t, db, "host", store.Ongoing)
	scheduled := partyWith(t, db, "host", store.Scheduled)

	if _, err := parties.RequestEnd(ctx, live, "guest"); !errors.Is(err, store.ErrNotHost) {
		t.Errorf("end by a guest: err %v, want ErrNotHost", err)
	}
	if _, err := parties.RequestEnd(ctx, scheduled, "host"); !errors.Is(err, store.ErrWrongStatus) {
		t.Errorf("end of a SCHEDULED party: err %v, want ErrWrongStatus", err)
	}
	if _, err := parties.RequestEnd(ctx, uuid.New(), "host"); !errors.Is(err, store.ErrPartyNotFound) {
		t.Errorf("end of an unknown party: err %v, want ErrPartyNotFound", err)
	}
	first, err := parties.RequestEnd(ctx, live, "host")
	if err != nil {
		t.Fatal(err)
	}
	if first.EndRequestedAt == nil || first.Status != store.Ongoing {
		t.Fatalf("after the request: status %s, end_requested_at %v; want ONGOING with the time set", first.Status, first.EndRequestedAt)
	}
	again, err := parties.RequestEnd(ctx, live, "host")
	if err != nil {
		t.Fatal(err)
	}
	if !again.EndRequestedAt.Equal(*first.EndRequestedAt) {
		t.Errorf("asking again moved end_requested_at from %v to %v", *first.EndRequestedAt, *again.EndRequestedAt)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	parties := store.NewParties(db)
	ctx := context.Background()
	scheduled := partyWith(t, db, "host", store.Scheduled)
	live := partyWith(t, db, "host", store.Ongoing)

	if _, err := parties.Cancel(ctx, scheduled, "guest"); !errors.Is(err, store.ErrNotHost) {
		t.Errorf("cancel by a guest: err %v, want ErrNotHost", err)
	}
	if _, err := parties.Cancel(ctx, live, "host"); !errors.Is(err, store.ErrWrongStatus) {
		t.Errorf("cancel of an ONGOING party: err %v, want ErrWrongStatus", err)
	}
	if _, err := parties.Cancel(ctx, uuid.New(), "host"); !errors.Is(err, store.ErrPartyNotFound) {
		t.Errorf("cancel of an unknown party: err %v, want ErrPartyNotFound", err)
	}
	p, err := parties.Cancel(ctx, scheduled, "host")
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != store.Cancelled {
		t.Errorf("status %s after cancel, want CANCELLED", p.Status)
	}
	if cur, err := parties.Cancel(ctx, scheduled, "host"); !errors.Is(err, store.ErrWrongStatus) || cur.Status != store.Cancelled {
		t.Errorf("second cancel: %s, %v; want the CANCELLED party and ErrWrongStatus", cur.Status, err)
	}
}

// A cancel racing the scheduler's start waits for the start's row lock and
// then finds the party ONGOING: it must refuse, not cancel a started party.
func TestCancelLosingARaceToStartIsRefused(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ctx := context.Background()
	id := partyWith(t, db, "host", store.Scheduled)
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE watch_parties SET status = 'ONGOING', started_at = now() WHERE id = $1 AND status = 'SCHEDULED'`, id); err != nil {
		t.Fatal(err)
	}
	type result struct {
		p   store.Party
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := store.NewParties(db).Cancel(ctx, id, "host")
		done <- result{p, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("cancel did not wait for the start's lock: %s, %v", r.p.Status, r.err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if !errors.Is(r.err, store.ErrWrongStatus) || r.p.Status != store.Ongoing {
		t.Errorf("cancel after the start: %s, %v; want the ONGOING party and ErrWrongStatus", r.p.Status, r.err)
	}
}

func TestLikesCountsStoredLikes(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ctx := context.Background()
	id := partyWith(t, db, "host", store.Ongoing)
	for _, user := range []string{"a", "b", "c"} {
		if _, err := db.Exec(ctx, `INSERT INTO watch_party_likes (party_id, user_id, event_id, created_at)
			VALUES ($1, $2, $3, now())`, id, user, uuid.New()); err != nil {
			t.Fatal(err)
		}
	}
	n, err := store.NewParties(db).Likes(ctx, id)
	if err != nil || n != 3 {
		t.Errorf("Likes = %d, %v; want 3", n, err)
	}
}
