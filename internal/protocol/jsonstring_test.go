package protocol_test

import (
	"encoding/json"
	"testing"

	"github.com/watchparty/watchparty/internal/protocol"
)

// TestAckAppendJSONIsJSONMarshal: the hand-written ack encoder writes
// byte for byte what encoding/json writes, ids that need escaping and
// empty optional fields included.
func TestAckAppendJSONIsJSONMarshal(t *testing.T) {
	for _, a := range []protocol.Ack{
		protocol.NewAck("c1", "0193a3f0-0000-7000-8000-000000000001", "1764619392345-0"),
		protocol.NewAck("", "0193a3f0-0000-7000-8000-000000000001", ""),
		protocol.NewAck(`q"<&>\`+"\n\u2028é", "e", "1-0"),
		{},
	} {
		want, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.AppendJSON([]byte("x")); string(got) != "x"+string(want) {
			t.Errorf("AppendJSON(%+v) = %s; want x%s", a, got, want)
		}
	}
}
