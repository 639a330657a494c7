package event

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

// TestFastDecodeAgreesWithEncodingJSON encodes many varied events and
// checks the fast path takes every one and yields exactly what the
// encoding/json path yields.
func TestFastDecodeAgreesWithEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	texts := []string{"hello", "a\nb", `quote " and \ slash`, "<b>&amp;</b>", "émoji 🎉", "tab\there", " "}
	fast := 0
	for i := range 5000 {
		pos := r.Int64N(MaxPositionMS)
		n := r.IntN(10000)
		e := Event{Type: Types[r.IntN(len(Types))], ID: uuid.New(), PartyID: uuid.New(),
			UserID: fmt.Sprintf("user-%d", r.IntN(100)), CreatedAt: Millis(time.Now().Add(time.Duration(r.Int64N(1e12))))}
		switch {
		case e.Type == Chat:
			e.Text = texts[r.IntN(len(texts))] + strings.Repeat("x", r.IntN(50))
		case e.Type.IsPlayback():
			e.PositionMS = &pos
		case e.Type == Viewers:
			e.Viewers = &n
		}
		if i%3 == 0 {
			e.Name = texts[r.IntN(len(texts))]
		}
		b, err := Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		var want record
		if err := streamForm.decode(b, &want); err != nil {
			t.Fatal(err)
		}
		got, ok := fastDecode(b)
		if !ok {
			continue
		}
		fast++
		if diff := cmp.Diff(want.Event, got); diff != "" {
			t.Fatalf("fastDecode(%s) differs from encoding/json (-json +fast):\n%s", b, diff)
		}
	}
	if fast != 5000 {
		t.Fatalf("fast path taken for %d of 5000 entries; Encode's output should always take it", fast)
	}
}

func TestFastDecodeDeclinesOddShapes(t *testing.T) {
	for _, raw := range []string{
		``, `[]`, `{"type":"chat"`, `{"type":"chat",}`, `{"type":1}`, `{"unknown":"x"}`,
		`{"text":"a\"b`, `{"text":"a\u00"}`, `{"position_ms":1.5}`, `{"type":"chat"} `, `{"type":"chat","event_id":"nope"}`,
		`{ "type":"chat"}`,
	} {
		if _, ok := fastDecode([]byte(raw)); ok {
			t.Errorf("fastDecode(%q) accepted", raw)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	e := Event{Type: Chat, ID: uuid.New(), PartyID: uuid.New(), UserID: "viewer-123",
		CreatedAt: Millis(time.Now()), Text: "hello everyone, this is a typical chat line"}
	raw, _ := Encode(e)
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := Decode(raw, "1-0"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var r record
			if err := streamForm.decode(raw, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
