// Package moderation decides who may moderate a party and reads the
// party's moderation state: its moderators, bans, mutes and deleted chats.
//
// The state lives in Redis beside the party's stream (rdb.PartyKeys) and
// changes only through the append of a moderation event (lua/append.lua),
// in the same atomic step that puts the event in the stream. So every pod
// sees the same state, the state never gets ahead of or behind the events
// that viewers and PostgreSQL receive, and cleanup removes it with the
// party's other keys. The host is the party's host_user_id in PostgreSQL;
// moderators are appointed by the host.
package moderation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
)

// Refusal says why an action is not allowed; its message is safe to show
// the caller.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

// Store is the parties' moderation state as this package reads it
// (rdb.Moderation; rdb.NewModeration of the client callers hold).
type Store interface {
	// AreModerators reports, for each of users in order, whether it is a
	// moderator of party.
	AreModerators(ctx context.Context, party uuid.UUID, users ...string) ([]bool, error)
	IsBanned(ctx context.Context, party uuid.UUID, user string) (bool, error)
	// Standing reads both in one round trip.
	Standing(ctx context.Context, party uuid.UUID, user string) (banned, moderator bool, err error)
	// DeletedChats returns the event ids of party's deleted chats, as
	// stored.
	DeletedChats(ctx context.Context, party uuid.UUID) ([]string, error)
	State(ctx context.Context, party uuid.UUID) (rdb.ModerationState, error)
}

func refuse(reason string) error { return &Refusal{Reason: reason} }

// IsRefusal reports whether err is a Refusal.
func IsRefusal(err error) bool {
	var r *Refusal
	return errors.As(err, &r)
}

// Authorize decides whether actor may take action t on target (a user; ""
// for a delete) in the party hosted by host:
//
//   - the host may do anything but act on itself;
//   - a moderator may delete any chat, and mute, unmute, kick, ban and
//     unban anyone but the host and other moderators;
//   - only the host appoints and removes moderators, and never a banned
//     user;
//   - anyone else may do nothing.
//
// It returns a *Refusal, or an error reading Redis.
func Authorize(ctx context.Context, s Store, party uuid.UUID, host, actor string, t event.Type, target string) error {
	if !t.IsModeration() {
		return fmt.Errorf("%q is not a moderation action", t)
	}
	switch {
	case target != "" && target == host:
		return refuse("the host cannot be the target of " + string(t))
	case target != "" && target == actor:
		return refuse("you cannot be the target of your own " + string(t))
	case actor == host && t.Kind().Room.Role > 0:
		return refuseBanned(ctx, s, party, target)
	case actor == host:
		return nil
	case t.Kind().May == event.ByHost:
		return refuse("only the host appoints and removes moderators")
	}
	users := []string{actor}
	if target != "" {
		users = append(users, target)
	}
	is, err := s.AreModerators(ctx, party, users...)
	if err != nil {
		return fmt.Errorf("read moderators of party %s: %w", party, err)
	}
	switch {
	case !is[0]:
		return refuse("only the host and its moderators can " + string(t))
	case len(is) > 1 && is[1]:
		return refuse("only the host can " + string(t) + " a moderator")
	}
	return nil
}

// refuseBanned refuses to appoint a banned user a moderator: it could act
// over REST while it may not even watch. The append checks it again.
func refuseBanned(ctx context.Context, s Store, party uuid.UUID, target string) error {
	banned, err := Banned(ctx, s, party, target)
	switch {
	case err != nil:
		return err
	case banned:
		return refuse("a banned user cannot be a moderator; unban them first")
	}
	return nil
}

// Banned reports whether user is banned from party.
func Banned(ctx context.Context, s Store, party uuid.UUID, user string) (bool, error) {
	banned, err := s.IsBanned(ctx, party, user)
	if err != nil {
		return false, fmt.Errorf("read bans of party %s: %w", party, err)
	}
	return banned, nil
}

// Standing is where a user stands in a party's moderation state.
type Standing struct {
	Banned    bool // refused from the party
	Moderator bool // appointed by the host
}

// StandingOf reads user's Standing in party in one round trip.
func StandingOf(ctx context.Context, s Store, party uuid.UUID, user string) (Standing, error) {
	banned, moderator, err := s.Standing(ctx, party, user)
	if err != nil {
		return Standing{}, fmt.Errorf("read the moderation state of party %s: %w", party, err)
	}
	return Standing{Banned: banned, Moderator: moderator}, nil
}

// Deleted returns the event ids of party's deleted chats.
func Deleted(ctx context.Context, s Store, party uuid.UUID) (map[uuid.UUID]bool, error) {
	ids, err := s.DeletedChats(ctx, party)
	if err != nil {
		return nil, fmt.Errorf("read deleted chats of party %s: %w", party, err)
	}
	out := make(map[uuid.UUID]bool, len(ids))
	for _, s := range ids {
		if id, err := uuid.Parse(s); err == nil {
			out[id] = true
		}
	}
	return out, nil
}

// Mute is a user muted until a time.
type Mute struct {
	UserID string    `json:"user_id"`
	Until  time.Time `json:"until"`
}

// MarshalJSON writes Until as the gateway writes every time: in UTC with
// milliseconds (event.TimeLayout), as the mute's broadcast frame has it.
// time.Time's own form drops trailing zeros ("…:27.28Z", "…:27Z").
func (m Mute) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		UserID string `json:"user_id"`
		Until  string `json:"until"`
	}{m.UserID, event.FormatTime(m.Until)})
}

// State is a party's moderation state, each list sorted.
type State struct {
	Moderators []string `json:"moderators"`
	Banned     []string `json:"banned"`
	Muted      []Mute   `json:"muted"` // mutes that have not ended at the time of reading
}

// Read returns party's moderation state at time now.
func Read(ctx context.Context, s Store, party uuid.UUID, now time.Time) (State, error) {
	stored, err := s.State(ctx, party)
	if err != nil {
		return State{}, fmt.Errorf("read moderation state of party %s: %w", party, err)
	}
	st := State{Moderators: stored.Moderators, Banned: stored.Bans, Muted: []Mute{}}
	for user, v := range stored.Mutes {
		ms, err := strconv.ParseInt(v, 10, 64)
		if until := time.UnixMilli(ms).UTC(); err == nil && until.After(now) {
			st.Muted = append(st.Muted, Mute{UserID: user, Until: until})
		}
	}
	slices.Sort(st.Moderators)
	slices.Sort(st.Banned)
	slices.SortFunc(st.Muted, func(a, b Mute) int { return strings.Compare(a.UserID, b.UserID) })
	return st, nil
}
