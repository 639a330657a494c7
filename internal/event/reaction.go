package event

import (
	"encoding/json"
	"slices"
	"strings"
)

// Reaction is a viewer's emoji reaction to the moment: broadcast to every
// viewer, and stored as per-second counts per emoji rather than a row per
// reaction, so a burst from a whole audience costs PostgreSQL a row per
// second and emoji.
const Reaction Type = "reaction"

// Reactions are the emoji a reaction may carry.
var Reactions = []string{"👍", "❤️", "😂", "😮", "😢", "👏", "🔥", "🎉"}

// emojiField is a reaction's emoji, kept as the event's Text.
var emojiField = field{"emoji", func(r *record) any { return &r.Text }}

func init() {
	declare(Kind{Type: Reaction,
		payload: []field{emojiField},
		missing: "reaction without emoji",
		read: func(fields map[string]json.RawMessage, in *Inbound) error {
			emoji, err := stringField(fields["emoji"])
			if err != nil || !slices.Contains(Reactions, emoji) {
				return invalid("emoji must be one of %s", strings.Join(Reactions, " "))
			}
			in.Text = emoji
			return nil
		},
		Broadcast: true,
		May:       ByViewer,
		Rate: &RateClass{Name: "reaction", Rate: 5, Burst: 10,
			RateHelp:  "reactions per second per user per party, across gateways (0: no limit)",
			RateDoc:   "emoji reactions per second per user per party, counted across all gateways by the append (and by each gateway first)",
			BurstHelp: "reaction burst per user per party"},
		Muted: true, // a mute silences reactions as it does chats
		Store: Counts,
	})
}
