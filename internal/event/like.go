package event

import "encoding/json"

// Like is a viewer's like of the party, counted once per user.
const Like Type = "like"

func init() {
	declare(Kind{Type: Like,
		payload:   []field{likeTotalField},
		read:      func(map[string]json.RawMessage, *Inbound) error { return nil },
		Broadcast: true,
		May:       ByViewer,
		Rate: &RateClass{Name: "like", Rate: 10, Burst: 10,
			RateHelp:  "likes per second per user per party, across gateways (0: no limit)",
			RateDoc:   "likes per second per user per party, counted across all gateways by the append (and by each gateway first)",
			BurstHelp: "like burst per user per party"},
		Redis: CountsLike,
		Room:  Room{Likes: true},
		Store: Likes,
	})
}
