package event

import (
	"encoding/json"
	"fmt"

	"github.com/watchparty/watchparty/internal/protocol"
)

// Moderation, by the party's host or a moderator it appointed (the event's
// user). Each is broadcast, in stream order, and stored as a log row; the
// append applies it to the party's moderation state atomically
// (internal/moderation).
const (
	Delete          Type = "delete"           // hides the chat TargetEvent
	Mute            Type = "mute"             // refuses Target's events of the kinds declared Muted until Until
	Unmute          Type = "unmute"           // ends Target's mute
	Kick            Type = "kick"             // closes Target's connections to the party
	Ban             Type = "ban"              // kick, and joins by Target refused
	Unban           Type = "unban"            // lets Target join again
	ModeratorAdd    Type = "moderator_add"    // Target may moderate (host only)
	ModeratorRemove Type = "moderator_remove" // Target no longer moderates (host only)
)

// moderationRate is one bucket for every action, refused ones too.
var moderationRate = &RateClass{Name: "moderation", Rate: 2, Burst: 20,
	RateHelp: "moderation actions per second per user per party, refused ones too (0: no limit)",
	RateDoc: "moderation actions per second per user per party, over the WebSocket and `POST …/moderation` alike; " +
		"taken before the authorization check, so refused actions count too. Per gateway, and across all gateways " +
		"for the actions that reach the append",
	BurstHelp: "moderation burst per user per party"}

// readTarget reads the user a moderation action acts on.
func readTarget(fields map[string]json.RawMessage, in *Inbound) (err error) {
	in.Target, err = target(fields["target_user_id"])
	return err
}

func init() {
	moderation := func(t Type, may Sender, room Room) Kind {
		return Kind{Type: t,
			payload:   []field{targetField},
			missing:   fmt.Sprintf("%s without target_user_id", t),
			read:      readTarget,
			Broadcast: true,
			May:       may,
			Rate:      moderationRate,
			Redis:     AppliesModeration,
			Room:      room,
			Store:     Logs,
		}
	}
	deleteKind := moderation(Delete, ByModerator, Room{})
	deleteKind.payload, deleteKind.missing = []field{targetEventField}, "delete without target_event_id"
	deleteKind.read = func(fields map[string]json.RawMessage, in *Inbound) (err error) {
		in.TargetEvent, err = targetEvent(fields["target_event_id"])
		return err
	}
	deleteKind.Hides = true
	declare(deleteKind)

	mute := moderation(Mute, ByModerator, Room{})
	mute.payload, mute.missing = []field{targetField, untilField}, "mute without target_user_id or until"
	mute.read = func(fields map[string]json.RawMessage, in *Inbound) error {
		if err := readTarget(fields, in); err != nil {
			return err
		}
		var err error
		in.MuteDuration, err = muteDuration(fields["duration_s"])
		return err
	}
	declare(mute)
	declare(moderation(Unmute, ByModerator, Room{}))
	declare(moderation(Kick, ByModerator, Room{Removes: protocol.ReasonKicked}))
	declare(moderation(Ban, ByModerator, Room{Bars: true, Role: -1, Removes: protocol.ReasonBanned}))
	declare(moderation(Unban, ByModerator, Room{Unbars: true}))
	declare(moderation(ModeratorAdd, ByHost, Room{Role: +1}))
	declare(moderation(ModeratorRemove, ByHost, Room{Role: -1}))
}

// ModerationTypes lists the moderation event types.
func ModerationTypes() []Type {
	return TypesOf(func(k Kind) bool { return k.Redis == AppliesModeration })
}
