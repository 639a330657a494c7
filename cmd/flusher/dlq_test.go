package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// runFlusher runs the command line args as the binary would, with the
// environment the test set, and returns what it printed on stdout.
func runFlusher(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, logs bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&logs)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	t.Logf("flusher %s: err %v\n%s%s", strings.Join(args, " "), err, out.String(), logs.String())
	return out.String(), err
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

func TestDLQCommands(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartRedis(t)
	dbURL := testenv.NewDatabase(t, store.Migrate)
	t.Setenv("REDIS_URL", srv.URL())
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("LOG_FORMAT", "text")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { rdb.Close() })
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	party, orphan := uuid.New(), uuid.New()
	now := time.Now()
	if err := store.NewParties(db).Insert(ctx, store.Party{ID: party, Title: "t", VideoURL: "v", HostUserID: "h",
		StartTime: now, EndTime: now.Add(time.Hour), Status: store.Ongoing, Control: store.ControlHost}); err != nil {
		t.Fatal(err)
	}
	failedAt := time.Date(2026, 11, 27, 12, 0, 0, 123_000_000, time.UTC)
	fkErr := &pgconn.PgError{Severity: "ERROR", Code: "23503", Message: "violates foreign key\n\tconstraint"}
	chat := func(p uuid.UUID) event.Event {
		return event.Event{Type: event.Chat, ID: uuid.New(), PartyID: p, UserID: "u", Text: "hi", CreatedAt: failedAt, StreamID: "1-0"}
	}
	for _, b := range []dlq.Batch{
		dlq.NewBatch("wp:{"+party.String()+"}:events", []event.Event{chat(party), chat(party)}, fkErr, 5, failedAt),
		dlq.NewBatch("wp:{"+orphan.String()+"}:events", []event.Event{chat(orphan)}, fkErr, 5, failedAt),
	} {
		if err := dlq.Push(ctx, rdb, b); err != nil {
			t.Fatal(err)
		}
	}

	out, err := runFlusher(t, "dlq", "list")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"0", party.String(), "2", "23503", "5", "2026-11-27T12:00:00.123Z", "ERROR: violates foreign key  constraint (SQLSTATE 23503)"},
		{"1", orphan.String(), "1", "23503", "5", "2026-11-27T12:00:00.123Z", "ERROR: violates foreign key  constraint (SQLSTATE 23503)"},
	}
	var got [][]string
	for _, l := range lines(out) {
		got = append(got, strings.Split(l, "\t"))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dlq list (-want +got):\n%s", diff)
	}
	if out, _ := runFlusher(t, "dlq", "list", "--limit", "1"); len(lines(out)) != 1 {
		t.Errorf("dlq list --limit 1 printed %q", out)
	}

	out, err = runFlusher(t, "dlq", "show", "1")
	if err != nil {
		t.Fatal(err)
	}
	var shown dlq.Batch
	if err := json.Unmarshal([]byte(out), &shown); err != nil || shown.PartyID != orphan.String() || len(shown.Events) != 1 {
		t.Errorf("dlq show 1 = %q (%v), want the orphan's batch", out, err)
	}
	for _, bad := range []string{"2", "-1", "x"} {
		if _, err := runFlusher(t, "dlq", "show", "--", bad); err == nil || !strings.Contains(err.Error(), "index") {
			t.Errorf("dlq show %s: err %v, want one naming the index", bad, err)
		}
	}

	out, err = runFlusher(t, "replay-dlq", "--dry-run")
	if err != nil || !strings.HasPrefix(out, "would replay index=0 party="+party.String()+" events=2\n") ||
		!strings.HasSuffix(out, "\nreplayed=0 failed=0 left=2\n") {
		t.Errorf("replay-dlq --dry-run = %q, %v", out, err)
	}
	if _, err := runFlusher(t, "replay-dlq", "--party", "not-a-uuid"); err == nil {
		t.Error("replay-dlq accepted a party id that is not a UUID")
	}
	out, err = runFlusher(t, "replay-dlq", "--party", party.String())
	if err != nil || lines(out)[len(lines(out))-1] != "replayed=1 failed=0 left=1" {
		t.Errorf("replay-dlq --party = %q, %v", out, err)
	}
	out, err = runFlusher(t, "replay-dlq")
	if err == nil || lines(out)[len(lines(out))-1] != "replayed=0 failed=1 left=1" ||
		!strings.Contains(out, "failed index=0 party="+orphan.String()+" events=1 sqlstate=23503 error=") {
		t.Errorf("replay-dlq over a batch that fails again = %q, %v; want failed=1 and an error", out, err)
	}
	if out, _ := runFlusher(t, "dlq", "list"); !strings.Contains(out, "\t23503\t6\t") {
		t.Errorf("after a failed replay, dlq list = %q; want attempts 6", out)
	}
}

func TestDLQCommandsRefuseBadSettings(t *testing.T) {
	tests := []struct {
		name, env, value string
		args             []string
	}{
		{"redis url", "REDIS_URL", "ftp://nowhere", []string{"dlq", "list"}},
		{"redis cluster", "REDIS_CLUSTER", "maybe", []string{"dlq", "show", "0"}},
		{"database url", "DATABASE_URL", "mysql://x", []string{"replay-dlq"}},
		{"log format", "LOG_FORMAT", "xml", []string{"replay-dlq", "--dry-run"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(tt.env, tt.value)
			if _, err := runFlusher(t, tt.args...); err == nil || !strings.Contains(err.Error(), tt.env) {
				t.Errorf("err = %v, want one naming %s", err, tt.env)
			}
		})
	}
}
