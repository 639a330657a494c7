package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// dbTimeout bounds creating the template (migrations included) and each
// clone or drop.
const dbTimeout = 2 * time.Minute

// cluster makes fresh databases on one PostgreSQL server by cloning a
// template that is created and migrated on first use. It is safe for
// concurrent use.
type cluster struct {
	base     url.URL // any database; url replaces the path
	template lazy[string]
}

// localURL is the superuser's URL for a server of ours on 127.0.0.1.
func localURL(port int) url.URL {
	return url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		RawQuery: "sslmode=disable",
	}
}

// newCluster points at the server in rawURL, keeping its user, password,
// host, port and parameters and ignoring its database.
func newCluster(rawURL string) (*cluster, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse postgres URL: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, fmt.Errorf("postgres URL has scheme %q, want postgres", u.Scheme)
	}
	return &cluster{base: *u}, nil
}

// url returns the URL of dbname on this server.
func (c *cluster) url(dbname string) string {
	u := c.base
	u.Path, u.RawPath = "/"+dbname, ""
	return u.String()
}

// NewDatabase returns the URL of a new database on p, cloned from a template
// that migrate prepared, and drops it (connections and all) when t ends. The
// first call on p creates the template and runs migrate on it; later calls
// reuse it and ignore their migrate. A migration failure fails every caller.
func (p *Postgres) NewDatabase(t testing.TB, migrate func(ctx context.Context, url string) error) string {
	t.Helper()
	return newTestDatabase(t, p.db, migrate)
}

func newTestDatabase(t testing.TB, c *cluster, migrate func(ctx context.Context, url string) error) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	name, err := c.newDatabase(ctx, migrate)
	if err != nil {
		t.Fatalf("new database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
		defer cancel()
		if err := c.drop(ctx, name); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return c.url(name)
}

// newDatabase clones the template, creating it first if needed, into a new
// database and returns its name.
func (c *cluster) newDatabase(ctx context.Context, migrate func(ctx context.Context, url string) error) (string, error) {
	template, err := c.template.get(func() (string, error) { return c.createTemplate(ctx, migrate) })
	if err != nil {
		return "", err
	}
	name := "wp_test_" + randomSuffix()
	create := "CREATE DATABASE " + quote(name) + " TEMPLATE " + quote(template)
	// A migration's connections may outlive its return by a moment, and
	// PostgreSQL refuses to copy a database someone is connected to.
	for {
		err := c.exec(ctx, create)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != pgerrcode.ObjectInUse {
			return name, err
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// createTemplate creates an empty database, runs migrate on it and closes it
// to connections, so that clones are not refused for a stray session.
func (c *cluster) createTemplate(ctx context.Context, migrate func(ctx context.Context, url string) error) (string, error) {
	name := "wp_template_" + randomSuffix()
	if err := c.exec(ctx, "CREATE DATABASE "+quote(name)); err != nil {
		return "", err
	}
	if err := migrate(ctx, c.url(name)); err != nil {
		return "", errors.Join(fmt.Errorf("migrate template: %w", err), c.drop(ctx, name))
	}
	if err := c.exec(ctx, "ALTER DATABASE "+quote(name)+" WITH ALLOW_CONNECTIONS false"); err != nil {
		return "", errors.Join(err, c.drop(ctx, name))
	}
	return name, nil
}

// dropTemplate drops the template if one was made; servers that outlive the
// test binary need that.
func (c *cluster) dropTemplate(ctx context.Context) error {
	if name, ok := c.template.peek(); ok {
		return c.drop(ctx, name)
	}
	return nil
}

// drop drops a database, cutting off anyone still connected.
func (c *cluster) drop(ctx context.Context, name string) error {
	return c.exec(ctx, "DROP DATABASE IF EXISTS "+quote(name)+" WITH (FORCE)")
}

// exec runs one statement in the maintenance database "postgres".
func (c *cluster) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.url("postgres"))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", c.base.Host, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

func quote(name string) string { return pgx.Identifier{name}.Sanitize() }

// randomSuffix returns 16 hex digits, enough that parallel tests and test
// binaries sharing a server never pick the same name.
func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails, per crypto/rand
	return hex.EncodeToString(b[:])
}
