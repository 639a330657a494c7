package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers pgx5://
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/store/storetest"
	"github.com/watchparty/watchparty/internal/testenv"
	"github.com/watchparty/watchparty/migrations"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Schema versions around the party-first keys.
const (
	beforePartyKeys = 4
	partyKeys       = 5
	// chatStreamIDs adds the chats' stream ids, which store.Writer writes:
	// the schema the current writer needs.
	chatStreamIDs = 6
)

// migrator returns an empty database and a migrator over the embedded
// migrations, so that a test can step through versions.
func migrator(t *testing.T) (*migrate.Migrate, string) {
	t.Helper()
	url := testenv.NewDatabase(t, func(context.Context, string) error { return nil })
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, "pgx5://"+strings.TrimPrefix(url, "postgres://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, url
}

func migrateTo(t *testing.T, m *migrate.Migrate, version uint) {
	t.Helper()
	if err := m.Migrate(version); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		t.Fatalf("migrate to %d: %v", version, err)
	}
}

func open(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func newParty(t *testing.T, db *pgxpool.Pool) uuid.UUID { return storetest.NewParty(t, db) }

// batch returns n events of every kind for party, created from at on; a
// like's user likes once, viewer samples are a second apart.
func batch(party uuid.UUID, n int, at time.Time) []event.Event {
	var es []event.Event
	for i := range n {
		ts := event.Millis(at.Add(time.Duration(i) * time.Second))
		user := fmt.Sprintf("u%d-%d", at.Unix(), i)
		pos := int64(i * 1000)
		viewers := i + 1
		es = append(es,
			event.Event{Type: event.Chat, ID: uuid.New(), PartyID: party, UserID: user, CreatedAt: ts, Text: "chat " + user},
			event.Event{Type: event.Like, ID: uuid.New(), PartyID: party, UserID: user, CreatedAt: ts},
			event.Event{Type: event.Seek, ID: uuid.New(), PartyID: party, UserID: user, CreatedAt: ts, PositionMS: &pos},
			event.Event{Type: event.Join, ID: uuid.New(), PartyID: party, UserID: user, CreatedAt: ts},
			event.Event{Type: event.Viewers, ID: uuid.New(), PartyID: party, CreatedAt: ts, Viewers: &viewers},
		)
	}
	return es
}

// eventTables are the tables the flusher writes, each with every column.
var eventTables = map[string]string{
	"watch_party_chats":         "event_id, party_id, user_id, body, created_at",
	"watch_party_likes":         "party_id, user_id, event_id, created_at",
	"watch_party_logs":          "event_id, party_id, user_id, action, position_ms, created_at",
	"watch_party_viewer_counts": "party_id, sampled_at, viewers",
}

// contents returns every row of every event table as text, sorted.
func contents(t *testing.T, db *pgxpool.Pool) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for table, cols := range eventTables {
		rows, err := db.Query(context.Background(), fmt.Sprintf("SELECT (%s)::text FROM %s", cols, table))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var row string
			if err := rows.Scan(&row); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], row)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(out[table])
	}
	return out
}

func sameContents(t *testing.T, when string, got, want map[string][]string) {
	t.Helper()
	for table := range eventTables {
		if len(want[table]) == 0 {
			t.Fatalf("%s: the reference holds no %s rows", when, table)
		}
		if !slices.Equal(got[table], want[table]) {
			t.Errorf("%s: %s holds %d rows, want the %d written before:\ngot  %v\nwant %v",
				when, table, len(got[table]), len(want[table]), got[table], want[table])
		}
	}
}

// primaryKeys returns each event table's primary-key columns in key order.
func primaryKeys(t *testing.T, db *pgxpool.Pool) map[string]string {
	t.Helper()
	rows, err := db.Query(context.Background(), `
		SELECT c.conrelid::regclass::text, string_agg(a.attname, ', ' ORDER BY k.n)
		FROM pg_constraint c,
		     unnest(c.conkey) WITH ORDINALITY AS k (attnum, n)
		     JOIN pg_attribute a ON a.attnum = k.attnum
		WHERE c.contype = 'p' AND a.attrelid = c.conrelid AND c.conrelid::regclass::text LIKE 'watch_part%'
		GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for rows.Next() {
		var table, cols string
		if err := rows.Scan(&table, &cols); err != nil {
			t.Fatal(err)
		}
		keys[table] = cols
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

func checkKeys(t *testing.T, db *pgxpool.Pool, when string, chatsAndLogs string) {
	t.Helper()
	want := map[string]string{
		"watch_parties":             "id",
		"watch_party_chats":         chatsAndLogs,
		"watch_party_logs":          chatsAndLogs,
		"watch_party_likes":         "party_id, user_id",
		"watch_party_viewer_counts": "party_id, sampled_at",
	}
	got := primaryKeys(t, db)
	for table, cols := range want {
		if got[table] != cols {
			t.Errorf("%s: primary key of %s is (%s), want (%s)", when, table, got[table], cols)
		}
	}
}

// write stores es with store.Writer, or on a schema older than the
// writer's (no chat stream ids) as that schema's writer did: the same rows,
// skipping those already there.
func write(t *testing.T, db *pgxpool.Pool, es []event.Event) {
	t.Helper()
	ctx := context.Background()
	var current bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_name = 'watch_party_chats' AND column_name = 'stream_ms')`).Scan(&current)
	if err != nil {
		t.Fatal(err)
	}
	if current {
		if err := store.NewWriter(db).Write(ctx, slices.Clone(es)); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, e := range es {
		var err error
		switch e.Type {
		case event.Chat:
			_, err = db.Exec(ctx, `INSERT INTO watch_party_chats (event_id, party_id, user_id, body, created_at)
				VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, e.ID, e.PartyID, e.UserID, e.Text, e.CreatedAt)
		case event.Like:
			_, err = db.Exec(ctx, `INSERT INTO watch_party_likes (party_id, user_id, event_id, created_at)
				VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, e.PartyID, e.UserID, e.ID, e.CreatedAt)
		case event.Viewers:
			_, err = db.Exec(ctx, `INSERT INTO watch_party_viewer_counts (party_id, sampled_at, viewers)
				VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, e.PartyID, e.CreatedAt, *e.Viewers)
		default:
			_, err = db.Exec(ctx, `INSERT INTO watch_party_logs (event_id, party_id, user_id, action, position_ms, created_at)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, e.ID, e.PartyID, e.UserID, string(e.Type), e.PositionMS, e.CreatedAt)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Rows written before the party-first keys are there after them, and after
// going back down; a redelivery of those events, alone or mixed with new
// ones (the COPY fast path then meets duplicates and falls back to the
// INSERT), adds nothing on either schema (up to the chat stream ids, which the
// current writer needs).
func TestPartyKeysKeepRowsAndIdempotency(t *testing.T) {
	m, url := migrator(t)
	migrateTo(t, m, beforePartyKeys)
	db := open(t, url)
	checkKeys(t, db, "before", "event_id")
	parties := []uuid.UUID{newParty(t, db), newParty(t, db)}
	at := time.Date(2026, 11, 27, 10, 0, 0, 123_000_000, time.UTC)
	var old []event.Event
	for _, p := range parties {
		es := batch(p, 20, at)
		write(t, db, es)
		old = append(old, es...)
	}
	want := contents(t, db)

	migrateTo(t, m, chatStreamIDs)
	checkKeys(t, db, "after up", "party_id, event_id")
	sameContents(t, "after up", contents(t, db), want)

	for _, p := range parties {
		write(t, db, old[:len(old)/2]) // a redelivery, fast path only
		fresh := batch(p, 3, at.Add(time.Hour))
		// Redelivered events of this party mixed with new ones.
		var mixed []event.Event
		for _, e := range old {
			if e.PartyID == p {
				mixed = append(mixed, e)
			}
		}
		mixed = append(mixed, fresh...)
		write(t, db, mixed)
		got := contents(t, db)
		for table := range eventTables {
			added := 3 // batch's 3 rounds: a chat, a like, a viewer sample...
			if table == "watch_party_logs" {
				added = 6 // ... and a seek and a join each
			}
			if n := len(got[table]) - len(want[table]); n != added {
				t.Errorf("after up: a redelivery plus %d new events added %d rows to %s", added, n, table)
			}
		}
		write(t, db, mixed) // and that batch again
		sameContents(t, "after up and a second redelivery", contents(t, db), got)
		want = got
	}

	// A client's resend of an accepted id after the gateway forgot it: a
	// new stream entry, a later created_at, the same event.
	resent := old[0]
	resent.CreatedAt = resent.CreatedAt.Add(time.Hour)
	if resent.Type != event.Chat {
		t.Fatalf("first event is %s, want a chat", resent.Type)
	}
	write(t, db, []event.Event{resent})
	sameContents(t, "after a late resend", contents(t, db), want)

	migrateTo(t, m, beforePartyKeys)
	checkKeys(t, db, "after down", "event_id")
	sameContents(t, "after down", contents(t, db), want)
	write(t, db, old)
	sameContents(t, "after down and a redelivery", contents(t, db), want)

	migrateTo(t, m, chatStreamIDs)
	checkKeys(t, db, "after up again", "party_id, event_id")
	sameContents(t, "after up again", contents(t, db), want)
}

// An index built beforehand (CREATE INDEX CONCURRENTLY, which does not block
// writes) under the documented name becomes the primary key instead of a
// second one being built under the table lock.
func TestPartyKeysAdoptPrebuiltIndex(t *testing.T) {
	m, url := migrator(t)
	migrateTo(t, m, beforePartyKeys)
	db := open(t, url)
	write(t, db, batch(newParty(t, db), 5, time.Now()))
	want := contents(t, db)
	ctx := context.Background()
	var oids []uint32
	for _, table := range []string{"watch_party_chats", "watch_party_logs"} {
		var oid uint32
		_, err := db.Exec(ctx, fmt.Sprintf("CREATE UNIQUE INDEX CONCURRENTLY %s_party_event_key ON %s (party_id, event_id)", table, table))
		if err == nil {
			err = db.QueryRow(ctx, "SELECT $1::regclass::oid", table+"_party_event_key").Scan(&oid)
		}
		if err != nil {
			t.Fatal(err)
		}
		oids = append(oids, oid)
	}

	migrateTo(t, m, partyKeys)
	checkKeys(t, db, "after up", "party_id, event_id")
	sameContents(t, "after up", contents(t, db), want)
	for i, table := range []string{"watch_party_chats", "watch_party_logs"} {
		var pk uint32
		var indexes int
		err := db.QueryRow(ctx, `SELECT (SELECT conindid FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'),
			(SELECT count(*) FROM pg_index WHERE indrelid = $1::regclass)`, table).Scan(&pk, &indexes)
		if err != nil {
			t.Fatal(err)
		}
		if pk != oids[i] {
			t.Errorf("%s: primary key index %d, want the prebuilt %d", table, pk, oids[i])
		}
		if indexes != 2 {
			t.Errorf("%s has %d indexes, want 2 (key and (party_id, created_at))", table, indexes)
		}
	}
}

// A prebuilt index that cannot be the key fails the migration and changes
// nothing: no table is left without a primary key or with another one.
func TestPartyKeysRefuseUnusablePrebuiltIndex(t *testing.T) {
	for name, index := range map[string]string{
		"not unique":    "CREATE INDEX watch_party_logs_party_event_key ON watch_party_logs (party_id, event_id)",
		"other columns": "CREATE UNIQUE INDEX watch_party_logs_party_event_key ON watch_party_logs (event_id, party_id)",
		"partial":       "CREATE UNIQUE INDEX watch_party_logs_party_event_key ON watch_party_logs (party_id, event_id) WHERE user_id <> ''",
	} {
		t.Run(name, func(t *testing.T) {
			m, url := migrator(t)
			migrateTo(t, m, beforePartyKeys)
			db := open(t, url)
			if _, err := db.Exec(context.Background(), index); err != nil {
				t.Fatal(err)
			}
			if err := m.Migrate(partyKeys); err == nil {
				t.Fatal("migrated with an index that cannot be the key")
			}
			checkKeys(t, db, "after the failed migration", "event_id")
		})
	}
}

// Chats stored before they kept their stream id get one from created_at:
// its millisecond, and their order within it as the sequence; going down
// drops the columns and keeps the rows.
func TestChatStreamIDsBackfill(t *testing.T) {
	m, url := migrator(t)
	migrateTo(t, m, partyKeys)
	db := open(t, url)
	party := newParty(t, db)
	at := time.Date(2026, 11, 27, 10, 0, 0, 123_000_000, time.UTC)
	var es []event.Event
	for i, d := range []time.Duration{0, 0, time.Millisecond, 0} {
		es = append(es, event.Event{Type: event.Chat, ID: uuid.New(), PartyID: party, UserID: fmt.Sprint("u", i),
			CreatedAt: at.Add(d), Text: fmt.Sprint("chat ", i)})
	}
	write(t, db, es)
	want := contents(t, db)

	migrateTo(t, m, chatStreamIDs)
	rows, err := db.Query(context.Background(), `SELECT stream_ms, stream_seq, count(*) FROM watch_party_chats
		WHERE party_id = $1 GROUP BY 1, 2 ORDER BY 1, 2`, party)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var ms, seq, n int64
		if err := rows.Scan(&ms, &seq, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d-%d x%d", ms, seq, n))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	ms := at.UnixMilli()
	wantIDs := []string{fmt.Sprintf("%d-0 x1", ms), fmt.Sprintf("%d-1 x1", ms), fmt.Sprintf("%d-2 x1", ms), fmt.Sprintf("%d-0 x1", ms+1)}
	if !slices.Equal(got, wantIDs) {
		t.Errorf("backfilled stream ids %v, want %v", got, wantIDs)
	}
	migrateTo(t, m, partyKeys)
	if got := contents(t, db); !slices.Equal(got["watch_party_chats"], want["watch_party_chats"]) {
		t.Errorf("after down: chats %v, want %v", got["watch_party_chats"], want["watch_party_chats"])
	}
}
