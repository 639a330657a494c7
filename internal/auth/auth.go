// Package auth identifies viewers from HS256 JWTs, or from ?user= when dev
// auth is on.
package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrUnauthorized says the request carried no usable identity.
var ErrUnauthorized = errors.New("unauthorized")

// Identity is who a request speaks for.
type Identity struct {
	UserID  string
	Name    string
	Expires time.Time // zero for dev auth: never expires
}

// Verifier authenticates requests. It is safe for concurrent use.
type Verifier struct {
	secret []byte
	dev    bool
	now    func() time.Time
}

// MinSecretBytes is the shortest secret NewVerifier accepts: an HS256 key
// shorter than the hash's 32 bytes can be guessed offline from one token.
const MinSecretBytes = 32

// NewVerifier returns a Verifier for tokens signed with secret; dev allows
// ?user=<id> without a token. At least one of them is required, and a
// secret must have at least MinSecretBytes bytes.
func NewVerifier(secret string, dev bool) (*Verifier, error) {
	if secret == "" && !dev {
		return nil, errors.New("WATCH_PARTY_AUTH_SECRET is required unless WATCH_PARTY_DEV_AUTH=true")
	}
	if secret != "" && len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("WATCH_PARTY_AUTH_SECRET must be at least %d bytes, got %d", MinSecretBytes, len(secret))
	}
	return &Verifier{secret: []byte(secret), dev: dev, now: time.Now}, nil
}

type claims struct {
	Name string `json:"name,omitempty"`
	jwt.RegisteredClaims
}

// Authenticate returns the identity of r: a token from ?token= or an
// "Authorization: Bearer" header, or with dev auth ?user=. Errors wrap
// ErrUnauthorized.
func (v *Verifier) Authenticate(r *http.Request) (Identity, error) {
	q := r.URL.Query()
	token := q.Get("token")
	if h := r.Header.Get("Authorization"); token == "" && strings.HasPrefix(h, "Bearer ") {
		token = strings.TrimPrefix(h, "Bearer ")
	}
	if token != "" {
		return v.Parse(token)
	}
	if user := q.Get("user"); user != "" {
		if !v.dev {
			return Identity{}, fmt.Errorf("%w: ?user= needs dev auth; send a token", ErrUnauthorized)
		}
		if len(user) > 128 {
			return Identity{}, fmt.Errorf("%w: user id too long", ErrUnauthorized)
		}
		return Identity{UserID: user, Name: q.Get("name")}, nil
	}
	return Identity{}, fmt.Errorf("%w: missing token", ErrUnauthorized)
}

// Parse validates an HS256 token; sub and exp are required.
func (v *Verifier) Parse(token string) (Identity, error) {
	if len(v.secret) == 0 {
		return Identity{}, fmt.Errorf("%w: tokens are not configured", ErrUnauthorized)
	}
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(v.now))
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	if c.Subject == "" || len(c.Subject) > 128 {
		return Identity{}, fmt.Errorf("%w: token needs a sub of at most 128 characters", ErrUnauthorized)
	}
	return Identity{UserID: c.Subject, Name: c.Name, Expires: c.ExpiresAt.Time}, nil
}

// Sign returns an HS256 token for tests and tools: sub, exp and name
// unless empty.
func Sign(secret, user, name string, exp time.Time) (string, error) {
	return Issue(secret, user, name, time.Time{}, exp)
}

// Issue is Sign with the token's issue time (iat) too, unless iat is zero:
// the token wpclient token prints.
func Issue(secret, user, name string, iat, exp time.Time) (string, error) {
	c := claims{Name: name, RegisteredClaims: jwt.RegisteredClaims{Subject: user, ExpiresAt: jwt.NewNumericDate(exp)}}
	if !iat.IsZero() {
		c.IssuedAt = jwt.NewNumericDate(iat)
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signed, nil
}
