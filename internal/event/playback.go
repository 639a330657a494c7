package event

import (
	"encoding/json"
	"fmt"
)

// Playback: the host (or anyone, in a party whose control is "everyone")
// plays, pauses or seeks the video at position_ms.
const (
	Play  Type = "play"
	Pause Type = "pause"
	Seek  Type = "seek"
)

// playbackRate is one bucket for play, pause and seek.
var playbackRate = &RateClass{Name: "playback", Rate: 10, Burst: 50,
	RateHelp:  "play/pause/seek per second per user per party, across gateways (0: no limit)",
	RateDoc:   "play/pause/seek per second per user per party (one bucket), counted across all gateways by the append (and by each gateway first)",
	BurstHelp: "play/pause/seek burst per user per party",
	BurstDoc:  "play/pause/seek burst"}

func init() {
	for _, p := range []struct {
		t     Type
		state string
	}{{Play, "playing"}, {Pause, "paused"}, {Seek, ""}} {
		declare(Kind{Type: p.t,
			payload: []field{positionField},
			missing: fmt.Sprintf("%s without position_ms", p.t),
			read: func(fields map[string]json.RawMessage, in *Inbound) (err error) {
				in.PositionMS, err = position(fields["position_ms"])
				return err
			},
			Broadcast:     true,
			May:           ByController,
			Rate:          playbackRate,
			Redis:         SetsPlayback,
			PlaybackState: p.state,
			Store:         Logs,
		})
	}
}
