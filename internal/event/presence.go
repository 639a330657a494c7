package event

// Join and Leave record a viewer's connection to the party; the gateway
// appends them and nobody sees them as frames.
const (
	Join  Type = "join"
	Leave Type = "leave"
)

func init() {
	declare(Kind{Type: Join, Store: Logs})
	// A banned viewer's leave is still recorded: the ban ends its
	// connection.
	declare(Kind{Type: Leave, BanExempt: true, Store: Logs})
}
