package gateway

import (
	"net/http/httptest"
	"testing"
)

func TestChatsQuery(t *testing.T) {
	tests := []struct {
		query  string
		before string
		limit  int
		bad    bool
	}{
		{"", "", 50, false},
		{"limit=1", "", 1, false},
		{"limit=200&before=1732000000000-3", "1732000000000-3", 200, false},
		{"limit=0", "", 0, true},
		{"limit=201", "", 0, true},
		{"limit=-1", "", 0, true},
		{"limit=five", "", 0, true},
		{"limit=", "", 0, true},
		{"before=", "", 0, true},
		{"before=now", "", 0, true},
		{"before=1732000000000", "", 0, true},
		{"before=0", "", 0, true},
		{"before=0-0", "0-0", 50, false},
		{"before=%2B1732000000000-0", "", 0, true},
		{"before=01732000000000-0", "", 0, true},
		{"before=1732000000000-00", "", 0, true},
		{"before=9223372036854775808-0", "", 0, true},
		{"before=1732000000000-0%20", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			before, limit, msg := chatsQuery(httptest.NewRequest("GET", "/api/parties/x/chats?"+tt.query, nil))
			if (msg != "") != tt.bad || before != tt.before || limit != tt.limit {
				t.Errorf("got %q, %d, %q; want %q, %d, bad %v", before, limit, msg, tt.before, tt.limit, tt.bad)
			}
		})
	}
}
