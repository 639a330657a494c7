package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/watchparty/watchparty/internal/rdb"
)

// pingTimeout bounds one attempt at one target.
const pingTimeout = 2 * time.Second

func newPingCmd() *cobra.Command {
	var redisURL, dbURL string
	var httpURLs []string
	var wait time.Duration
	var quiet bool
	cmd := &cobra.Command{
		Use:   "ping",
		Short: "Check that Redis, PostgreSQL and/or HTTP endpoints answer (exit 0 when all do)",
		Long: `Check each target given: --redis-url (PING), --database-url (the server answers;
a database that does not exist yet counts as answering, "flusher migrate" creates it)
and --http (a 2xx answer, e.g. /readyz). With --wait, retry until all answer or the
time is up. Used by scripts/run.sh and by container healthchecks.`,
		Example: `  wpclient ping --redis-url redis://localhost:6379/0 --database-url "$DATABASE_URL"
  wpclient ping --http http://localhost:8080/readyz --wait 30s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var checks []check
			if redisURL != "" {
				checks = append(checks, check{"redis " + redisURL, func(ctx context.Context) error { return pingRedis(ctx, redisURL) }})
			}
			if dbURL != "" {
				checks = append(checks, check{"postgres " + redactPassword(dbURL), func(ctx context.Context) error { return pingPostgres(ctx, dbURL) }})
			}
			for _, u := range httpURLs {
				checks = append(checks, check{u, func(ctx context.Context) error { return pingHTTP(ctx, u) }})
			}
			if len(checks) == 0 {
				return errors.New("nothing to check: give --redis-url, --database-url or --http")
			}
			return runChecks(cmd.Context(), checks, wait, quiet)
		},
	}
	f := cmd.Flags()
	f.StringVar(&redisURL, "redis-url", "", "Redis URL to PING (a comma-separated host:port list means Redis Cluster)")
	f.StringVar(&dbURL, "database-url", "", "PostgreSQL URL to connect to")
	f.StringArrayVar(&httpURLs, "http", nil, "URL that must answer 2xx to GET (repeatable)")
	f.DurationVar(&wait, "wait", 0, "keep retrying for this long (0: one try)")
	f.BoolVarP(&quiet, "quiet", "q", false, "print nothing on success")
	return cmd
}

type check struct {
	name string
	run  func(context.Context) error
}

// runChecks retries every failing check every 250ms until all pass or wait is over.
func runChecks(ctx context.Context, pending []check, wait time.Duration, quiet bool) error {
	deadline := time.Now().Add(wait)
	for {
		var failing []check
		var reasons []string
		for _, c := range pending {
			attempt, cancel := context.WithTimeout(ctx, pingTimeout)
			err := c.run(attempt)
			cancel()
			if err != nil {
				failing = append(failing, c)
				reasons = append(reasons, fmt.Sprintf("%s: %v", c.name, err))
			} else if !quiet {
				fmt.Fprintf(os.Stderr, "%s: ok\n", c.name)
			}
		}
		if len(failing) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not answering:\n  %s", strings.Join(reasons, "\n  "))
		}
		pending = failing
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func pingRedis(ctx context.Context, raw string) error { return rdb.Ping(ctx, raw) }

func pingPostgres(ctx context.Context, raw string) error {
	conn, err := pgx.Connect(ctx, raw)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "3D000" { // invalid_catalog_name: no such database yet
		return nil
	}
	return err
}

func pingHTTP(ctx context.Context, raw string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// redactPassword hides a password in a URL before it is printed.
func redactPassword(raw string) string {
	cfg, err := pgconn.ParseConfig(raw)
	if err != nil || cfg.Password == "" {
		return raw
	}
	return strings.Replace(raw, ":"+cfg.Password+"@", ":xxxxx@", 1)
}
