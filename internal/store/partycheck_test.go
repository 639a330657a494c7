package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
)

// newRole creates a login role of the test's database that may write the
// event tables, and returns a pool connected as it.
func newRole(t *testing.T, admin *pgxpool.Pool, grants ...string) (string, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	role := "wp_writer_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	qs := append([]string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO " + role,
	}, grants...)
	for _, q := range qs {
		if _, err := admin.Exec(ctx, strings.ReplaceAll(q, "ROLE_NAME", role)); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = admin.Exec(ctx, "REVOKE SET ON PARAMETER session_replication_role FROM "+role)
		_, _ = admin.Exec(ctx, "DROP OWNED BY "+role)
		_, _ = admin.Exec(ctx, "DROP ROLE "+role)
	})
	db, err := pgxpool.New(ctx, strings.Replace(admin.Config().ConnString(), "postgres@", role+"@", 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return role, db
}

// TestWriteSurvivesPrivilegeRevokedAtRunTime: a writer that found it may
// turn FK triggers off keeps writing, through the FK triggers, once a
// privilege of that fast path is revoked while it runs; the FK still
// refuses an orphan.
func TestWriteSurvivesPrivilegeRevokedAtRunTime(t *testing.T) {
	tests := []struct{ name, revoke string }{
		{"session_replication_role", "REVOKE SET ON PARAMETER session_replication_role FROM ROLE_NAME"},
		{"lock on watch_parties", "REVOKE UPDATE ON watch_parties FROM ROLE_NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admin := newDB(t)
			ctx := context.Background()
			role, db := newRole(t, admin, "GRANT SET ON PARAMETER session_replication_role TO ROLE_NAME")
			party := newParty(t, admin)
			w := store.NewWriter(db)
			// The first writes find the permission and use it on every
			// connection the pool opens.
			for i := range 4 {
				if err := w.Write(ctx, []event.Event{ev(party, event.Chat, "a", time.Now())}); err != nil {
					t.Fatalf("write %d as %s with the permission: %v", i, role, err)
				}
			}
			if _, err := admin.Exec(ctx, strings.ReplaceAll(tt.revoke, "ROLE_NAME", role)); err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				if err := w.Write(ctx, []event.Event{ev(party, event.Chat, "b", time.Now())}); err != nil {
					t.Fatalf("write %d as %s after the revocation: %v", i, role, err)
				}
			}
			err := w.Write(ctx, []event.Event{ev(uuid.New(), event.Chat, "c", time.Now())})
			if store.SQLState(err) != "23503" || !strings.Contains(err.Error(), "watch_party_chats_party_id_fkey") {
				t.Fatalf("orphan written after the revocation: %v, want the table's own FK to refuse it", err)
			}
			if n := count(t, admin, "watch_party_chats"); n != 8 {
				t.Fatalf("%d chats, want 8", n)
			}
		})
	}
}
