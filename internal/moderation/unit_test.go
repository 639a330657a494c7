package moderation

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
)

// fakeStore is one party's moderation state in memory: Store without
// Redis.
type fakeStore struct {
	moderators, bans []string
	mutes            map[string]string
	deleted          []string
}

func (f *fakeStore) AreModerators(_ context.Context, _ uuid.UUID, users ...string) ([]bool, error) {
	out := make([]bool, len(users))
	for i, u := range users {
		out[i] = slices.Contains(f.moderators, u)
	}
	return out, nil
}

func (f *fakeStore) IsBanned(_ context.Context, _ uuid.UUID, user string) (bool, error) {
	return slices.Contains(f.bans, user), nil
}

func (f *fakeStore) Standing(_ context.Context, _ uuid.UUID, user string) (bool, bool, error) {
	return slices.Contains(f.bans, user), slices.Contains(f.moderators, user), nil
}

func (f *fakeStore) DeletedChats(context.Context, uuid.UUID) ([]string, error) { return f.deleted, nil }

func (f *fakeStore) State(context.Context, uuid.UUID) (rdb.ModerationState, error) {
	return rdb.ModerationState{Moderators: slices.Clone(f.moderators), Bans: slices.Clone(f.bans), Mutes: f.mutes}, nil
}

// TestUnitAuthorize: the rules of who may act on whom, over a party hosted
// by "host" with moderators "mod" and "mod2" and "banned" banned.
func TestUnitAuthorize(t *testing.T) {
	s := &fakeStore{moderators: []string{"mod", "mod2"}, bans: []string{"banned"}}
	for _, tc := range []struct {
		name          string
		actor, target string
		t             event.Type
		allowed       bool
	}{
		{"host mutes a viewer", "host", "viewer", event.Mute, true},
		{"host appoints a viewer", "host", "viewer", event.ModeratorAdd, true},
		{"host appoints a banned user", "host", "banned", event.ModeratorAdd, false},
		{"host removes a moderator", "host", "mod", event.ModeratorRemove, true},
		{"host bans itself", "host", "host", event.Ban, false},
		{"moderator bans a viewer", "mod", "viewer", event.Ban, true},
		{"moderator deletes a chat", "mod", "", event.Delete, true},
		{"moderator kicks the host", "mod", "host", event.Kick, false},
		{"moderator mutes another moderator", "mod", "mod2", event.Mute, false},
		{"moderator mutes itself", "mod", "mod", event.Mute, false},
		{"moderator appoints a viewer", "mod", "viewer", event.ModeratorAdd, false},
		{"viewer deletes a chat", "viewer", "", event.Delete, false},
		{"viewer mutes a viewer", "viewer", "other", event.Mute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Authorize(context.Background(), s, uuid.New(), "host", tc.actor, tc.t, tc.target)
			switch {
			case tc.allowed && err != nil:
				t.Fatalf("refused: %v", err)
			case !tc.allowed && !IsRefusal(err):
				t.Fatalf("Authorize = %v, want a refusal", err)
			}
		})
	}
	if err := Authorize(context.Background(), s, uuid.New(), "host", "host", event.Chat, "viewer"); err == nil || IsRefusal(err) {
		t.Errorf("a chat is not a moderation action: got %v", err)
	}
}

// TestUnitRead: the state comes back sorted, without the mutes that ended
// by now or cannot be read; deleted chat ids that are not ids are skipped.
func TestUnitRead(t *testing.T) {
	now := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	s := &fakeStore{
		moderators: []string{"zed", "amy"},
		bans:       []string{"ted", "bob"},
		mutes: map[string]string{
			"later": "1796155260000", // 2026-12-01T20:01:00Z
			"ended": "1796155140000", // 2026-12-01T19:59:00Z
			"junk":  "soon",
		},
	}
	st, err := Read(context.Background(), s, uuid.New(), now)
	if err != nil {
		t.Fatal(err)
	}
	want := State{Moderators: []string{"amy", "zed"}, Banned: []string{"bob", "ted"},
		Muted: []Mute{{UserID: "later", Until: now.Add(time.Minute)}}}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}

	id := uuid.New()
	s.deleted = []string{id.String(), "not an id"}
	deleted, err := Deleted(context.Background(), s, uuid.New())
	if diff := cmp.Diff(map[uuid.UUID]bool{id: true}, deleted); diff != "" || err != nil {
		t.Errorf("Deleted (-want +got):\n%s %v", diff, err)
	}
}
