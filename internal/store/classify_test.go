package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

// retryable is an error that pgconn says was raised before anything was sent.
type retryable struct{}

func (retryable) Error() string     { return "conn busy" }
func (retryable) SafeToRetry() bool { return true }

func pgErr(code string) error { return &pgconn.PgError{Severity: "ERROR", Code: code, Message: "m"} }

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want store.Class
	}{
		{"connection failure 08006", pgErr("08006"), store.Transient},
		{"cannot connect now 57P03", pgErr("57P03"), store.Transient},
		{"admin shutdown 57P01", pgErr("57P01"), store.Transient},
		{"query canceled 57014", pgErr("57014"), store.Transient},
		{"serialization failure 40001", pgErr("40001"), store.Transient},
		{"deadlock 40P01", pgErr("40P01"), store.Transient},
		{"too many connections 53300", pgErr("53300"), store.Transient},
		{"disk full 53100", pgErr("53100"), store.Transient},
		{"lock not available 55P03", pgErr("55P03"), store.Transient},
		{"io error 58030", pgErr("58030"), store.Transient},
		{"context deadline", context.DeadlineExceeded, store.Transient},
		{"context canceled", context.Canceled, store.Transient},
		{"eof", io.EOF, store.Transient},
		{"unexpected eof", io.ErrUnexpectedEOF, store.Transient},
		{"net op error", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, store.Transient},
		{"net deadline", os.ErrDeadlineExceeded, store.Transient},
		{"safe to retry", retryable{}, store.Transient},
		{"wrapped deadlock", fmt.Errorf("write watch_party_chats: %w", pgErr("40P01")), store.Transient},
		{"wrapped twice eof", fmt.Errorf("flush: %w", fmt.Errorf("commit: %w", io.EOF)), store.Transient},

		{"nul in text 22021", pgErr("22021"), store.Permanent},
		{"string too long 22001", pgErr("22001"), store.Permanent},
		{"bad text representation 22P02", pgErr("22P02"), store.Permanent},
		{"foreign key 23503", pgErr("23503"), store.Permanent},
		{"check 23514", pgErr("23514"), store.Permanent},
		{"not null 23502", pgErr("23502"), store.Permanent},
		{"wrapped foreign key", fmt.Errorf("write watch_party_logs: %w", pgErr("23503")), store.Permanent},
		{"joined foreign key", errors.Join(errors.New("context"), pgErr("23503")), store.Permanent},

		{"undefined table 42P01", pgErr("42P01"), store.Deployment},
		{"undefined column 42703", pgErr("42703"), store.Deployment},
		{"insufficient privilege 42501", pgErr("42501"), store.Deployment},
		{"in failed transaction 25P02", pgErr("25P02"), store.Deployment},
		{"read only transaction 25006", pgErr("25006"), store.Deployment},
		{"bad password 28P01", pgErr("28P01"), store.Deployment},
		{"missing database 3D000", pgErr("3D000"), store.Deployment},
		{"feature not supported 0A000", pgErr("0A000"), store.Deployment},
		{"internal error XX000", pgErr("XX000"), store.Deployment},
		{"wrapped undefined table", fmt.Errorf("write watch_party_chats: %w", pgErr("42P01")), store.Deployment},
		{"unknown error", errors.New("something odd"), store.Deployment},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := store.Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestSQLState(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"pg error", pgErr("23503"), "23503"},
		{"wrapped", fmt.Errorf("write: %w", pgErr("22021")), "22021"},
		{"not a pg error", io.EOF, ""},
		{"nil", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := store.SQLState(tt.err); got != tt.want {
				t.Errorf("SQLState(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

// TestClassifyRealErrors classifies what the driver and the server really
// return, as the writer wraps it.
func TestClassifyRealErrors(t *testing.T) {
	db := newDB(t)
	party := newParty(t, db)
	ctx := context.Background()
	w := store.NewWriter(db)

	nul := ev(party, event.Chat, "a", time.Now())
	nul.Text = "bad\x00text"
	orphan := ev(uuid.New(), event.Chat, "a", time.Now())

	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?sslmode=disable&connect_timeout=2", port)
	missing, err := url.Parse(db.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	missing.Path = "/wp_no_such_database"

	tests := []struct {
		name      string
		err       func() error
		wantClass store.Class
		wantState string
	}{
		{"nul in chat text", func() error { return w.Write(ctx, []event.Event{nul}) }, store.Permanent, "22021"},
		{"unknown party", func() error { return w.Write(ctx, []event.Event{orphan}) }, store.Permanent, "23503"},
		{"connection refused", func() error { return connect(ctx, refusedURL) }, store.Transient, ""},
		{"missing database", func() error { return connect(ctx, missing.String()) }, store.Deployment, "3D000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if err == nil {
				t.Fatal("no error")
			}
			if got := store.Classify(err); got != tt.wantClass {
				t.Errorf("Classify(%v) = %v, want %v", err, got, tt.wantClass)
			}
			if got := store.SQLState(err); got != tt.wantState {
				t.Errorf("SQLState(%v) = %q, want %q", err, got, tt.wantState)
			}
		})
	}

	// A missing table is the deployment's fault, not the data's.
	if _, err := db.Exec(ctx, "DROP TABLE watch_party_logs"); err != nil {
		t.Fatal(err)
	}
	err = w.Write(ctx, []event.Event{ev(party, event.Join, "a", time.Now())})
	if got := store.Classify(err); got != store.Deployment || store.SQLState(err) != "42P01" {
		t.Errorf("write to a dropped table: %v classified %v, want deployment (42P01)", err, got)
	}
}

func connect(ctx context.Context, url string) error {
	conn, err := pgconn.Connect(ctx, url)
	if err == nil {
		conn.Close(ctx)
	}
	return err
}
