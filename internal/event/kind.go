package event

import (
	"encoding/json"
	"fmt"
	"slices"
)

// A Kind declares everything about one event type, in one place: its wire
// fields and how a client's frame of it is read, who may send it, the rate
// class it is counted in, what the append does with it in Redis, what a
// room does with it and where the flusher stores it. Each kind is declared
// in a file of its own (chat.go, like.go, playback.go, moderation.go, …);
// the layers read these declarations instead of switching on the type, so
// a new kind that does what existing ones do is its file alone.
type Kind struct {
	Type Type

	// payload is the fields only this kind carries (fields.go). A field
	// no encoding declares is added to every encoding by declare. missing, when set, makes them required and says
	// they are missing.
	payload []field
	missing string
	// read reads and checks the kind's own fields of a client frame into
	// in; nil for kinds no client sends.
	read func(fields map[string]json.RawMessage, in *Inbound) error

	Broadcast bool // viewers receive these events as frames
	Anonymous bool // no user_id: the system's own samples

	May  Sender     // who may send it
	Rate *RateClass // the bucket it takes tokens of; required of every kind clients send

	Redis Effect // the party state the append changes besides the stream
	// Muted: refused while its user is muted. BanExempt: stored for a
	// banned user too (the leave that ends a banned viewer's connection).
	Muted, BanExempt bool
	// PlaybackState is the state a playback event leaves ("playing",
	// "paused"), "" for one that keeps it (seek).
	PlaybackState string

	Room Room // what a room does with it besides sending its frame

	Store Target // where the flusher stores it
	// Hides: the event hides the chat TargetEvent, in rooms, history and
	// storage (delete).
	Hides bool
}

// Sender says who may send events of a kind.
type Sender uint8

// The senders.
const (
	// BySystem: no client sends it; the gateway records it (join, leave)
	// or the flusher samples it (viewers).
	BySystem Sender = iota
	// ByViewer: any viewer of the party.
	ByViewer
	// ByController: the host, or any viewer when the party's control is
	// "everyone".
	ByController
	// ByModerator: the host and the moderators it appointed.
	ByModerator
	// ByHost: the host alone.
	ByHost
)

// RateClass is a token bucket, one per user per party, that inbound frames
// of the kinds naming it take a token of: per gateway, and again across
// gateways in the append. Its settings are WATCH_PARTY_<NAME>_RATE and
// _BURST (flags --<name>-rate and --<name>-burst), declared from it.
type RateClass struct {
	Name  string
	Rate  float64 // default tokens per second
	Burst int     // default bucket size
	// The settings' --help and docs texts (Doc: Help when empty).
	RateHelp, RateDoc, BurstHelp, BurstDoc string
}

// Effect is what the append script does with an event besides storing and
// announcing it (internal/rdb, lua/append.lua).
type Effect uint8

// The effects.
const (
	NoEffect          Effect = iota
	CountsLike               // adds its user to the party's likers, once
	SetsPlayback             // sets the party's playback state
	AppliesModeration        // checks its user's role and applies it to the moderation state
)

// Room is what a party's room (internal/room) keeps of an event it
// delivers, besides sending its frame to the viewers.
type Room struct {
	History bool // in the chat history and among the recent chats a welcome carries
	Likes   bool // carries the party's like total
	// Bars: the Target may not join (ban); Unbars ends that (unban).
	Bars, Unbars bool
	// Role: +1 makes Target a moderator, -1 ends its role (also a ban).
	Role int8
	// Removes, when set, is the close reason of Target's connections.
	Removes string
}

// Target names where the flusher stores a kind (internal/store).
type Target string

// The storage targets.
const (
	Chats        Target = "watch_party_chats"         // a row per chat
	Likes        Target = "watch_party_likes"         // a row per user who liked
	Logs         Target = "watch_party_logs"          // a row per event
	ViewerCounts Target = "watch_party_viewer_counts" // a row per sample
	// Counts is per-second counts by party, kind and Text, not a row per
	// event: a burst of 100,000 costs a row per second and value.
	Counts Target = "watch_party_event_counts"
)

// kinds holds the declared kinds by type; Types lists them in declaration
// order.
var kinds = map[Type]*Kind{}

// Types lists every event type, for metrics that are initialised per type.
var Types []Type

// declare adds k. It panics, so that every program and test stops at
// start, when k is declared twice, when a kind clients send has no rate
// class or no sender, or when a kind no client sends names one.
func declare(k Kind) {
	switch _, dup := kinds[k.Type]; {
	case dup:
		panic(fmt.Sprintf("event kind %q declared twice", k.Type))
	case k.read != nil && (k.Rate == nil || k.Rate.Name == ""):
		panic(fmt.Sprintf("event kind %q is sent by clients and has no rate class", k.Type))
	case k.read != nil && k.May == BySystem:
		panic(fmt.Sprintf("event kind %q is sent by clients and says no client may send it", k.Type))
	case k.read == nil && k.May != BySystem:
		panic(fmt.Sprintf("event kind %q is sent by no client but declares a sender", k.Type))
	case k.Store == "":
		panic(fmt.Sprintf("event kind %q has no storage target", k.Type))
	}
	forms := []*form{&streamForm, &deadLetterForm, &frameForm}
	for _, f := range k.payload {
		inForm := func(fm *form) bool { return slices.ContainsFunc(fm.slots, func(s slot) bool { return s.key == f.key }) }
		if slices.ContainsFunc(forms, inForm) {
			continue // a field the forms declare themselves, where they carry it
		}
		for _, fm := range forms {
			fm.slots = append(fm.slots, slot{f, payload})
		}
	}
	kinds[k.Type] = &k
	Types = append(Types, k.Type)
}

// KindOf returns the declaration of t; ok is false for an undeclared type.
func KindOf(t Type) (k Kind, ok bool) {
	p, ok := kinds[t]
	if !ok {
		return Kind{}, false
	}
	return *p, true
}

// Kind returns the declaration of t, the zero Kind for an undeclared type.
func (t Type) Kind() Kind { return *kindOf(t) }

// kindOf is t's declaration, not copied (read only), or the zero Kind for
// an undeclared type: the methods below run for every frame and event.
func kindOf(t Type) *Kind {
	if k, ok := kinds[t]; ok {
		return k
	}
	return &noKind
}

var noKind Kind

// RateClasses lists the rate classes the declared kinds name, each once,
// in declaration order.
func RateClasses() []RateClass {
	var out []RateClass
	for _, t := range Types {
		if r := kinds[t].Rate; r != nil && !slices.ContainsFunc(out, func(c RateClass) bool { return c.Name == r.Name }) {
			out = append(out, *r)
		}
	}
	return out
}

// TypesOf lists the declared types whose kind satisfies keep.
func TypesOf(keep func(Kind) bool) []Type {
	var out []Type
	for _, t := range Types {
		if keep(*kinds[t]) {
			out = append(out, t)
		}
	}
	return out
}

// IsPlayback reports whether t changes the party's playback state.
func (t Type) IsPlayback() bool { return kindOf(t).Redis == SetsPlayback }

// IsModeration reports whether t is a moderation action.
func (t Type) IsModeration() bool { return kindOf(t).Redis == AppliesModeration }

// Inbound reports whether clients send events of type t as frames.
func (t Type) Inbound() bool { return kindOf(t).read != nil }

// Broadcast reports whether viewers see events of type t as frames.
func (t Type) Broadcast() bool { return kindOf(t).Broadcast }

func (k *Kind) carries(f field) bool {
	for _, p := range k.payload {
		if p.key == f.key {
			return true
		}
	}
	return false
}
