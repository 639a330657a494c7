package rdb

import (
	"context"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Moderation is the moderation state of parties beside their streams
// (PartyKeys: Moderators, Bans, Mutes, Deleted), read only: the append of a
// moderation event changes it (lua/append.lua). It is safe for concurrent
// use.
type Moderation struct{ c Client }

// NewModeration returns the moderation state in c.
func NewModeration(c Client) Moderation { return Moderation{c: c} }

// AreModerators reports, for each of users in order, whether it is a
// moderator of party.
func (m Moderation) AreModerators(ctx context.Context, party uuid.UUID, users ...string) ([]bool, error) {
	members := make([]any, len(users))
	for i, u := range users {
		members[i] = u
	}
	return m.c.SMIsMember(ctx, KeysFor(party).Moderators, members...).Result()
}

// IsBanned reports whether user is banned from party.
func (m Moderation) IsBanned(ctx context.Context, party uuid.UUID, user string) (bool, error) {
	return m.c.SIsMember(ctx, KeysFor(party).Bans, user).Result()
}

// Standing reports whether user is banned from party and whether it is
// one of its moderators, in one round trip.
func (m Moderation) Standing(ctx context.Context, party uuid.UUID, user string) (banned, moderator bool, err error) {
	k := KeysFor(party)
	pipe := m.c.Pipeline()
	b := pipe.SIsMember(ctx, k.Bans, user)
	mod := pipe.SIsMember(ctx, k.Moderators, user)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, false, err
	}
	return b.Val(), mod.Val(), nil
}

// DeletedChats returns the event ids, as stored, of party's deleted chats.
func (m Moderation) DeletedChats(ctx context.Context, party uuid.UUID) ([]string, error) {
	return m.c.SMembers(ctx, KeysFor(party).Deleted).Result()
}

// ModerationState is a party's moderation state as stored.
type ModerationState struct {
	Moderators []string
	Bans       []string
	Mutes      map[string]string // user -> end of the mute, Unix milliseconds
}

// State reads party's moderators, bans and mutes in one round trip.
func (m Moderation) State(ctx context.Context, party uuid.UUID) (ModerationState, error) {
	k := KeysFor(party)
	var mods, bans *redis.StringSliceCmd
	var mutes *redis.MapStringStringCmd
	_, err := m.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		mods, bans, mutes = p.SMembers(ctx, k.Moderators), p.SMembers(ctx, k.Bans), p.HGetAll(ctx, k.Mutes)
		return nil
	})
	if err != nil {
		return ModerationState{}, err
	}
	return ModerationState{Moderators: mods.Val(), Bans: bans.Val(), Mutes: mutes.Val()}, nil
}
