package event

import "encoding/json"

// Chat is a viewer's chat message.
const Chat Type = "chat"

func init() {
	declare(Kind{Type: Chat,
		payload: []field{textField},
		read: func(fields map[string]json.RawMessage, in *Inbound) (err error) {
			in.Text, err = chatText(fields["text"])
			return err
		},
		Broadcast: true,
		May:       ByViewer,
		Rate: &RateClass{Name: "chat", Rate: 5, Burst: 10,
			RateHelp:  "chats per second per user per party, across gateways (0: no limit)",
			RateDoc:   "chats per second per user per party, counted across all gateways by the append (and by each gateway first)",
			BurstHelp: "chat burst per user per party"},
		Muted: true,
		Room:  Room{History: true},
		Store: Chats,
	})
}
