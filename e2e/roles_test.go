package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// loginRole creates a login role that is a member of group (created by the
// migrations) and returns dbURL with that role as its user. Role names are
// cluster-wide, so each test's are its own.
func (s *system) loginRole(group string) string {
	s.t.Helper()
	name := strings.ReplaceAll(group+"_"+uuid.NewString()[:8], "-", "")
	_, err := s.db.Exec(context.Background(), "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+
		" LOGIN PASSWORD 'test-password' IN ROLE "+pgx.Identifier{group}.Sanitize())
	if err != nil {
		s.t.Fatalf("create login role in %s: %v", group, err)
	}
	u, err := url.Parse(s.dbURL)
	if err != nil {
		s.t.Fatal(err)
	}
	u.User = url.UserPassword(name, "test-password")
	return u.String()
}

// mustRefuse runs sql as the role of dbURL and fails unless PostgreSQL
// refuses it for want of privilege.
func mustRefuse(t *testing.T, dbURL, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), sql)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Fatalf("%q: %v; want insufficient_privilege (42501)", sql, err)
	}
}

// TestLeastPrivilegeRoles runs the gateway and the flusher under login
// roles that only belong to the groups the migrations define: a party is
// created, started, chatted in, flushed and finished by the scheduler, and
// what each role must not do is refused.
func TestLeastPrivilegeRoles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole party under login roles; skipped with -short")
	}
	s := sharedSystem(t)
	gwURL := s.loginRole("watchparty_gateway")
	flURL := s.loginRole("watchparty_flusher")

	gwSys, flSys := *s, *s
	gwSys.dbURL, flSys.dbURL = gwURL, flURL
	gw, _ := gwSys.gateway()
	flSys.flusher("WATCH_PARTY_SCHEDULER_INTERVAL=200ms", "WATCH_PARTY_FLUSH_INTERVAL=300ms",
		"WATCH_PARTY_VIEWER_SAMPLE_INTERVAL=1s")

	start := time.Now().Add(500 * time.Millisecond).UTC()
	end := start.Add(4 * time.Second)
	code, created := api(t, gw, "POST", "/api/parties", "host", map[string]any{
		"title": "Least privilege", "video_url": "https://example.com/v.mp4",
		"start_time": start.Format(time.RFC3339Nano), "end_time": end.Format(time.RFC3339Nano)})
	if code != http.StatusCreated {
		t.Fatalf("create party as the gateway role: %d %v", code, created)
	}
	party := created["id"].(string)
	eventually(t, 10*time.Second, "the scheduler to start the party", func() bool {
		n, err := s.tryCount(`SELECT count(*) FROM watch_parties WHERE id = $1 AND status = 'ONGOING'`, party)
		return err == nil && n == 1
	})
	c := dial(t, gw, party, "bob")
	c.nextOf("welcome", 5*time.Second)
	c.send(map[string]any{"type": "chat", "id": "c1", "text": "hello from a least-privileged gateway"})
	c.nextOf("ack", 5*time.Second)
	c.send(map[string]any{"type": "like", "id": "c2"})
	c.nextOf("ack", 5*time.Second)
	if code, got := api(t, gw, "GET", "/api/parties/"+party, "bob", nil); code != http.StatusOK || got["likes"] != float64(1) {
		t.Fatalf("read party as the gateway role: %d %v", code, got)
	}

	eventually(t, 10*time.Second, "the chat flushed by the flusher role", func() bool {
		n, err := s.tryCount(`SELECT count(*) FROM watch_party_chats WHERE party_id = $1`, party)
		return err == nil && n == 1
	})
	c.nextOf("party_ended", 15*time.Second)
	eventually(t, 10*time.Second, "the party FINISHED with its peak", func() bool {
		n, err := s.tryCount(`SELECT count(*) FROM watch_parties WHERE id = $1 AND status = 'FINISHED' AND peak_viewers = 1`, party)
		return err == nil && n == 1
	})
	if n := s.count(`SELECT count(*) FROM watch_party_likes WHERE party_id = $1`, party); n != 1 {
		t.Fatalf("%d like rows, want 1", n)
	}
	if n := s.count(`SELECT count(*) FROM watch_party_logs WHERE party_id = $1 AND action = 'join'`, party); n != 1 {
		t.Fatalf("%d join rows, want 1", n)
	}

	mustRefuse(t, gwURL, `DELETE FROM watch_parties`)
	mustRefuse(t, gwURL, `INSERT INTO watch_party_chats VALUES (gen_random_uuid(), '`+party+`', 'x', 'forged', now())`)
	mustRefuse(t, gwURL, `CREATE TABLE gw_owned (id int)`)
	mustRefuse(t, flURL, `DELETE FROM watch_party_chats`)
	mustRefuse(t, flURL, `INSERT INTO watch_parties (id, title, video_url, host_user_id, start_time, end_time)
		VALUES (gen_random_uuid(), 't', 'https://x', 'h', now(), now() + interval '1 hour')`)
	mustRefuse(t, flURL, `UPDATE watch_party_chats SET body = 'changed'`)
}
