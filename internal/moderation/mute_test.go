package moderation

import (
	"encoding/json"
	"testing"
	"time"
)

func TestMuteJSONHasMilliseconds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		until time.Time
		want  string
	}{
		{"whole second", time.Date(2026, 12, 1, 20, 13, 12, 0, time.UTC), `{"user_id":"bob","until":"2026-12-01T20:13:12.000Z"}`},
		{"trailing zero", time.Date(2026, 12, 1, 20, 13, 12, 280e6, time.UTC), `{"user_id":"bob","until":"2026-12-01T20:13:12.280Z"}`},
		{"other zone", time.Date(2026, 12, 1, 21, 13, 12, 345e6, time.FixedZone("CET", 3600)), `{"user_id":"bob","until":"2026-12-01T20:13:12.345Z"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(Mute{UserID: "bob", Until: tc.until})
			if err != nil || string(b) != tc.want {
				t.Fatalf("Marshal = %s, %v; want %s", b, err, tc.want)
			}
		})
	}
}
