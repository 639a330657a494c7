package store

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

// Class says what a failed write means for the events in it.
type Class int

// The classes of write errors.
const (
	// Transient: the database is unreachable, overloaded, restarting or
	// the transaction lost a race. Retry later; never dead-letter.
	Transient Class = iota + 1
	// Permanent: the data itself is refused (a data exception or an
	// integrity constraint). Retrying the same events fails the same way,
	// so they may be isolated and eventually dead-lettered.
	Permanent
	// Deployment: the deployment is wrong, not the data (missing table or
	// column, privileges, authentication, missing database, a bug). Retry
	// after the operator fixes it; never dead-letter. Unknown errors land
	// here: retrying is safer than dead-lettering good events.
	Deployment
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	case Deployment:
		return "deployment"
	}
	return "unknown"
}

// Classify says whether err, returned by a write (wrapped or not), is
// transient, permanent or a deployment problem. A PostgreSQL error is judged
// by its SQLSTATE first, so a connection refused for a missing database or
// bad password is Deployment, not Transient.
func Classify(err error) Class {
	if err == nil {
		return Transient // nothing failed; never a reason to dead-letter
	}
	if code := SQLState(err); code != "" {
		return classifySQLState(code)
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.As(err, &connErr), errors.As(err, &netErr),
		pgconn.SafeToRetry(err), pgconn.Timeout(err):
		return Transient
	}
	return Deployment
}

// SQLState returns the SQLSTATE of the PostgreSQL error in err's chain, or ""
// when there is none.
func SQLState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func classifySQLState(code string) Class {
	switch code {
	case pgerrcode.LockNotAvailable, pgerrcode.SnapshotTooOld:
		return Transient
	}
	if len(code) < 2 {
		return Deployment
	}
	switch code[:2] {
	case "08", // connection exception
		"40", // transaction rollback: serialization failure, deadlock
		"53", // insufficient resources: disk full, out of memory, too many connections
		"57", // operator intervention: admin shutdown, query canceled, cannot connect now
		"58": // system error: I/O error
		return Transient
	case "22", // data exception: NUL in text, value too long, bad text representation
		"23": // integrity constraint violation: foreign key, check, not null
		return Permanent
	}
	// 42 (undefined table or column, insufficient privilege), 25 (in failed
	// or read-only transaction), 28 (invalid authorization), 3D (missing
	// database), 0A (feature not supported) and everything unknown.
	return Deployment
}
