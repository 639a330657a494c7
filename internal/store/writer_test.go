package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/store/storetest"
	"github.com/watchparty/watchparty/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newDB(t *testing.T) *pgxpool.Pool { return testenv.NewPool(t, store.Migrate) }

func newParty(t *testing.T, db *pgxpool.Pool) uuid.UUID { return storetest.NewParty(t, db) }

func ev(party uuid.UUID, typ event.Type, user string, at time.Time) event.Event {
	e := event.Event{Type: typ, ID: uuid.New(), PartyID: party, UserID: user, CreatedAt: event.Millis(at)}
	switch typ {
	case event.Chat:
		e.Text = "hi from " + user
	case event.Play, event.Pause, event.Seek:
		pos := int64(1234)
		e.PositionMS = &pos
	case event.Viewers:
		n := 7
		e.Viewers = &n
	}
	return e
}

func count(t *testing.T, db *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWriteIsIdempotentAndNeverChangesTheFirstRow(t *testing.T) {
	db := newDB(t)
	party := newParty(t, db)
	w := store.NewWriter(db)
	ctx := context.Background()
	at := time.Date(2026, 11, 27, 10, 0, 0, 123_456_000, time.UTC)
	first := []event.Event{
		ev(party, event.Chat, "a", at), ev(party, event.Like, "a", at),
		ev(party, event.Seek, "a", at), ev(party, event.Join, "b", at), ev(party, event.Viewers, "", at),
	}
	if err := w.Write(ctx, first); err != nil {
		t.Fatal(err)
	}
	// A redelivered batch mixed with new events: the COPY fast path meets
	// duplicates and the fallback must store only the new ones.
	secondLike := ev(party, event.Like, "a", at.Add(time.Second)) // same user likes again
	newChat := ev(party, event.Chat, "c", at.Add(time.Second))
	changed := first[0]
	changed.Text = "rewritten"
	batch := append([]event.Event{changed, secondLike, newChat}, first[1:]...)
	if err := w.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for table, want := range map[string]int{"watch_party_chats": 2, "watch_party_likes": 1,
		"watch_party_logs": 2, "watch_party_viewer_counts": 1} {
		if got := count(t, db, table); got != want {
			t.Errorf("%s: %d rows, want %d", table, got, want)
		}
	}
	var body string
	var created time.Time
	if err := db.QueryRow(ctx, `SELECT body, created_at FROM watch_party_chats WHERE event_id = $1`, first[0].ID).Scan(&body, &created); err != nil {
		t.Fatal(err)
	}
	if body != first[0].Text || !created.Equal(event.Millis(at)) {
		t.Errorf("first chat is now %q at %v; want it unchanged (%q at %v)", body, created, first[0].Text, event.Millis(at))
	}
	var likeID uuid.UUID
	if err := db.QueryRow(ctx, `SELECT event_id FROM watch_party_likes WHERE party_id = $1`, party).Scan(&likeID); err != nil {
		t.Fatal(err)
	}
	if likeID != first[1].ID {
		t.Errorf("like row now belongs to event %s, want the first like %s", likeID, first[1].ID)
	}
}

func TestWriteIsAllOrNothing(t *testing.T) {
	db := newDB(t)
	party := newParty(t, db)
	good := ev(party, event.Chat, "a", time.Now())
	orphan := ev(uuid.New(), event.Chat, "b", time.Now()) // no such party: FK violation
	if err := store.NewWriter(db).Write(context.Background(), []event.Event{good, orphan}); err == nil {
		t.Fatal("batch with an FK violation was written")
	}
	if n := count(t, db, "watch_party_chats"); n != 0 {
		t.Fatalf("%d chats committed from a failed batch", n)
	}
}

// TestWriteWithoutReplicaRolePermission: a role that may not turn FK
// triggers off still writes, and the real FK still refuses an orphan.
func TestWriteWithoutReplicaRolePermission(t *testing.T) {
	admin := newDB(t)
	ctx := context.Background()
	role := "wp_writer_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO " + role,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP OWNED BY "+role)
		_, _ = admin.Exec(context.Background(), "DROP ROLE "+role)
	})
	db, err := pgxpool.New(ctx, strings.Replace(admin.Config().ConnString(), "postgres@", role+"@", 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	party := newParty(t, admin)
	w := store.NewWriter(db)
	if err := w.Write(ctx, []event.Event{ev(party, event.Chat, "a", time.Now())}); err != nil {
		t.Fatalf("write as %s: %v", role, err)
	}
	err = w.Write(ctx, []event.Event{ev(uuid.New(), event.Chat, "b", time.Now())})
	if store.SQLState(err) != "23503" || !strings.Contains(err.Error(), "watch_party_chats_party_id_fkey") {
		t.Fatalf("orphan written as %s: %v, want the table's own FK to refuse it", role, err)
	}
	if n := count(t, admin, "watch_party_chats"); n != 1 {
		t.Fatalf("%d chats, want 1", n)
	}
}

// TestWriteModeration: a delete marks its chat whether the chat comes in
// the same batch, an earlier one or a later one (a chat replayed from the
// dead-letter list after its delete was stored), keeps the first mark when
// redelivered,
// and moderation log rows survive a redelivery mixed with new events (the
// COPY meets duplicates and falls back to the INSERT) unchanged.
func TestWriteModeration(t *testing.T) {
	db := newDB(t)
	w := store.NewWriter(db)
	ctx := context.Background()
	party := newParty(t, db)
	at := time.Date(2026, 11, 27, 10, 0, 0, 123_000_000, time.UTC)
	early, late := ev(party, event.Chat, "bob", at), ev(party, event.Chat, "bob", at)
	early.Text, late.Text = "early", "late"
	del := func(chat event.Event, by string, at time.Time) event.Event {
		e := ev(party, event.Delete, by, at)
		e.TargetEvent = chat.ID
		return e
	}
	mute := ev(party, event.Mute, "host", at)
	mute.Target, mute.Until = "bob", at.Add(time.Minute)
	if err := w.Write(ctx, []event.Event{early}); err != nil {
		t.Fatal(err)
	}
	first := []event.Event{del(early, "mod", at.Add(time.Second)), late, del(late, "host", at.Add(2*time.Second)), mute}
	if err := w.Write(ctx, first); err != nil {
		t.Fatal(err)
	}
	kick := ev(party, event.Kick, "host", at.Add(3*time.Second))
	kick.Target = "bob"
	again := append(slices.Clone(first), del(early, "host", at.Add(time.Hour)), kick)
	if err := w.Write(ctx, again); err != nil {
		t.Fatal(err)
	}
	replayed := ev(party, event.Chat, "bob", at)
	replayed.Text = "replayed"
	if err := w.Write(ctx, []event.Event{del(replayed, "mod", at.Add(4*time.Second))}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteReplayed(ctx, []event.Event{replayed}); err != nil {
		t.Fatal(err)
	}
	got := column(t, db, `SELECT body || ' ' || deleted_by || ' ' || to_char(deleted_at AT TIME ZONE 'UTC', 'HH24:MI:SS')
		FROM watch_party_chats WHERE party_id = $1 ORDER BY body`, party)
	if want := []string{"early mod 10:00:01", "late host 10:00:02", "replayed mod 10:00:04"}; !slices.Equal(got, want) {
		t.Fatalf("chats %q, want %q", got, want)
	}
	logs := column(t, db, `SELECT concat_ws(' ', user_id, action, target_user_id, target_event_id IS NOT NULL,
		to_char(until AT TIME ZONE 'UTC', 'HH24:MI:SS.MS')) FROM watch_party_logs WHERE party_id = $1 ORDER BY created_at, action`, party)
	want := []string{"host mute bob f 10:01:00.123", "mod delete t", "host delete t", "host kick bob f", "mod delete t", "host delete t"}
	if !slices.Equal(logs, want) {
		t.Fatalf("log rows %q, want %q", logs, want)
	}
}

// column returns the one text column query returns.
func column(t *testing.T, db *pgxpool.Pool, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}
