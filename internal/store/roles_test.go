package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

// TestMigrateManyDatabasesAtOnce migrates several databases of one fresh
// cluster at the same moment: the cluster-wide group roles are created by
// whichever migration gets there first, no migration fails on the race,
// and every database grants the roles what they need.
func TestMigrateManyDatabasesAtOnce(t *testing.T) {
	pg := testenv.StartPostgres(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = store.Migrate(context.Background(), pg.URL(fmt.Sprintf("wp_%d", i)))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrate wp_%d: %v", i, err)
		}
	}
	for i := range n {
		conn, err := pgx.Connect(context.Background(), pg.URL(fmt.Sprintf("wp_%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		var ok bool
		err = conn.QueryRow(context.Background(), `SELECT
			has_table_privilege('watchparty_gateway', 'watch_parties', 'INSERT')
			AND has_table_privilege('watchparty_gateway', 'watch_party_likes', 'SELECT')
			AND NOT has_table_privilege('watchparty_gateway', 'watch_party_chats', 'INSERT')
			AND has_table_privilege('watchparty_flusher', 'watch_party_chats', 'INSERT')
			AND has_table_privilege('watchparty_flusher', 'watch_parties', 'UPDATE')
			AND NOT has_table_privilege('watchparty_flusher', 'watch_parties', 'INSERT')
			AND NOT has_table_privilege('watchparty_flusher', 'watch_party_chats', 'DELETE')
			AND NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'watchparty_gateway')`).Scan(&ok)
		conn.Close(context.Background())
		if err != nil || !ok {
			t.Errorf("wp_%d: grants wrong (%v, %v)", i, ok, err)
		}
	}
}

// TestMigrateLosesTheRoleRace holds a CREATE ROLE of the gateway's group
// open in another transaction while a migration runs: the migration waits
// for it, sees the role appear under its feet (unique_violation), and must
// carry on.
func TestMigrateLosesTheRoleRace(t *testing.T) {
	pg := testenv.StartPostgres(t)
	ctx := context.Background()
	url := pg.URL("wp_race")
	if err := store.EnsureDatabase(ctx, url); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	tx, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `CREATE ROLE watchparty_gateway NOLOGIN`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- store.Migrate(ctx, url) }()

	watcher, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		if err := watcher.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = 'wp_race' AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("migration finished (%v) without waiting for the other CREATE ROLE", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the migration never waited on the other CREATE ROLE")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("migration after losing the race: %v", err)
	}
}
