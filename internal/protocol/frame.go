package protocol

// The names of the frames that are not events (event kinds, such as
// "chat", "kick" or "viewers", are internal/event's): the "type" of a /ws frame
// and the event name of its Socket.IO packet.
const (
	// From the server.
	FrameWelcome    = "welcome"     // first frame of every connection
	FrameAck        = "ack"         // a frame of the client's is stored (Ack)
	FrameError      = "error"       // a frame of the client's is refused (Error)
	FramePong       = "pong"        // answers a ping (Pong)
	FramePartyEnded = "party_ended" // the party finished; a 1000 close follows
	FrameClosing    = "closing"     // Socket.IO only: the code and reason of the close that follows

	// From the client.
	FramePing = "ping" // asks for the server's clock; nothing is stored
)

// The roles a welcome's "role" names: the user's role in the party when
// it joined. Later changes come as moderator_add, moderator_remove and ban
// frames.
const (
	RoleHost      = "host"      // the party's host_user_id
	RoleModerator = "moderator" // appointed by the host
	RoleViewer    = "viewer"    // neither
)

// ServerFrames lists the names of the frames the server sends that are
// not events.
func ServerFrames() []string {
	return []string{FrameWelcome, FrameAck, FrameError, FramePong, FramePartyEnded, FrameClosing}
}

// ClientFrames lists the names of the frames a client sends that are not
// events.
func ClientFrames() []string { return []string{FramePing} }

// Ack tells the sender its frame was stored. ID is the client's id of the
// frame, if it gave one; StreamID is empty for a repeated like.
type Ack struct {
	Type     string `json:"type"`
	ID       string `json:"id,omitempty"`
	EventID  string `json:"event_id"`
	StreamID string `json:"stream_id,omitempty"`
}

// NewAck returns the ack of the frame id, stored as event eventID at
// streamID.
func NewAck(id, eventID, streamID string) Ack {
	return Ack{Type: FrameAck, ID: id, EventID: eventID, StreamID: streamID}
}

// Error tells the sender its frame id was refused, and why.
type Error struct {
	Type    string `json:"type"`
	ID      string `json:"id,omitempty"`
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// NewError returns the refusal of the frame id with code and message.
func NewError(id string, code Code, message string) Error {
	return Error{Type: FrameError, ID: id, Code: code, Message: message}
}

// Pong answers the ping id with the server's clock, in Unix milliseconds.
type Pong struct {
	Type       string `json:"type"`
	ID         string `json:"id,omitempty"`
	ServerTime int64  `json:"server_time"`
}

// NewPong returns the answer to the ping id at serverTime (Unix ms).
func NewPong(id string, serverTime int64) Pong {
	return Pong{Type: FramePong, ID: id, ServerTime: serverTime}
}
