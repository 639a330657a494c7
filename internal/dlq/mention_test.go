package dlq_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/watchparty/watchparty/internal/dlq"
)

// TestMembersReadsDamagedDocuments finds the user ids a document names,
// whether it is valid JSON or not, and none that a chat's text pretends.
func TestMembersReadsDamagedDocuments(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"event", `{"type":"chat","event_id":"x","user_id":"alice","text":"hi"}`, []string{"alice"}},
		{"spaces and escapes", `{ "user_id" : "al\u0069ce\"s" }`, []string{`alice"s`}},
		{"cut short", `{"type":"poll","user_id":"alice","options":["a","b`, []string{"alice"}},
		{"cut inside the value", `{"type":"poll","user_id":"ali`, nil},
		{"not the member", `{"target_user_id":"alice","name":"user_id"}`, nil},
		{"text pretending", `{"user_id":"bob","text":"\"user_id\":\"alice\""}`, []string{"bob"}},
		{"array of strings", `["user_id","alice"]`, nil},
		{"number value", `{"user_id":7,"x":"alice"}`, nil},
		{"not JSON at all", `garbage "user_id": "alice" and more`, []string{"alice"}},
		{"damaged batch with a raw entry", `{"party_id":"p","events":[{"user_id":"bob"}],"raw":[{"stream_id":"1-0",` +
			`"fields":{"e":"{\"type\":\"poll\",\"user_id\":\"alice\",\"text\":\"\\\"user_id\\\":\\\"carol\\\"\"}"}}],"error":`,
			[]string{"bob", "alice"}},
		{"empty", ``, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, dlq.Members(tc.doc, "user_id")); diff != "" {
				t.Errorf("Members(%s) (-want +got):\n%s", tc.doc, diff)
			}
		})
	}
}

// TestRawEntryUserIDs reads the user of an entry from its event, or from a
// field of its own.
func TestRawEntryUserIDs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields map[string]string
		want   []string
	}{
		{"event", map[string]string{"e": `{"type":"poll","user_id":"alice"}`, "v": "2"}, []string{"alice"}},
		{"field", map[string]string{"user_id": "alice", "e": `{"type":"poll"`}, []string{"alice"}},
		{"none", map[string]string{"e": `{"type":"viewers","viewers":3}`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := dlq.RawEntry{StreamID: "1-0", Fields: tc.fields}.UserIDs()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("UserIDs (-want +got):\n%s", diff)
			}
		})
	}
}
