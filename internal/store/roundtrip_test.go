package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
)

// journey is one event and what each encoding must make of it, written out
// literally: the stream entry, the dead-letter event, the frame viewers get
// (with a like total of 41) and the row the writer stores.
type journey struct {
	event             event.Event
	entry, dlq, frame string
	table, row        string
}

var (
	journeyParty = uuid.MustParse("0b7c0f8e-4c2a-4f4e-9c57-3f4f1d2a9b10")
	journeyAt    = time.Date(2026, 11, 27, 12, 0, 0, 123_000_000, time.UTC)
)

func journeys() []journey {
	pos, zero, n := int64(120000), int64(0), 13
	ev := func(typ event.Type, id, user, name string, at time.Time, sid string) event.Event {
		return event.Event{Type: typ, ID: uuid.MustParse(id), PartyID: journeyParty, UserID: user, Name: name,
			CreatedAt: at, StreamID: sid}
	}
	chat := ev(event.Chat, "11111111-1111-4111-8111-111111111111", "alice", "Alice A.", journeyAt, "1764244800123-0")
	chat.Text = "hi <b> & \"you\"\né 🎉"
	plain := ev(event.Chat, "11111111-1111-4111-8111-111111111112", "bob", "", journeyAt.Add(877*time.Millisecond), "1764244801000-0")
	plain.Text = "plain"
	play := ev(event.Play, "33333333-3333-4333-8333-333333333333", "host", "Host", journeyAt, "1764244800123-2")
	play.PositionMS = &pos
	pause := ev(event.Pause, "44444444-4444-4444-8444-444444444444", "host", "Host", journeyAt, "1764244800123-3")
	pause.PositionMS = &pos
	seek := ev(event.Seek, "55555555-5555-4555-8555-555555555555", "host", "Host", journeyAt, "1764244800123-4")
	seek.PositionMS = &zero
	viewers := ev(event.Viewers, "88888888-8888-4888-8888-888888888888", "", "", journeyAt.Add(-123*time.Millisecond), "1764244800000-0")
	viewers.Viewers = &n
	const p = `"party_id":"0b7c0f8e-4c2a-4f4e-9c57-3f4f1d2a9b10"`
	del := ev(event.Delete, "99999999-9999-4999-8999-999999999990", "mod", "", journeyAt, "1764244800123-7")
	del.TargetEvent = chat.ID
	mute := ev(event.Mute, "99999999-9999-4999-8999-999999999991", "host", "Host", journeyAt, "1764244800123-8")
	mute.Target, mute.Until = "bob", journeyAt.Add(10*time.Minute)
	return append([]journey{{
		event: chat,
		entry: `{"type":"chat","event_id":"11111111-1111-4111-8111-111111111111",` + p + `,"user_id":"alice","name":"Alice A.","created_at":"2026-11-27T12:00:00.123Z","text":"hi \u003cb\u003e \u0026 \"you\"\né 🎉"}`,
		dlq:   `{"type":"chat","event_id":"11111111-1111-4111-8111-111111111111",` + p + `,"user_id":"alice","created_at":"2026-11-27T12:00:00.123Z","text":"hi \u003cb\u003e \u0026 \"you\"\né 🎉","stream_id":"1764244800123-0"}`,
		frame: `{"type":"chat","event_id":"11111111-1111-4111-8111-111111111111","stream_id":"1764244800123-0","user_id":"alice","name":"Alice A.","text":"hi \u003cb\u003e \u0026 \"you\"\né 🎉","ts":"2026-11-27T12:00:00.123Z"}`,
		table: "watch_party_chats", row: "11111111-1111-4111-8111-111111111111|alice|hi <b> & \"you\"\né 🎉|2026-11-27T12:00:00.123Z|1764244800123|0|2026-11-27T12:00:00.123Z|mod",
	}, {
		event: plain,
		entry: `{"type":"chat","event_id":"11111111-1111-4111-8111-111111111112",` + p + `,"user_id":"bob","created_at":"2026-11-27T12:00:01Z","text":"plain"}`,
		dlq:   `{"type":"chat","event_id":"11111111-1111-4111-8111-111111111112",` + p + `,"user_id":"bob","created_at":"2026-11-27T12:00:01.000Z","text":"plain","stream_id":"1764244801000-0"}`,
		frame: `{"type":"chat","event_id":"11111111-1111-4111-8111-111111111112","stream_id":"1764244801000-0","user_id":"bob","text":"plain","ts":"2026-11-27T12:00:01.000Z"}`,
		table: "watch_party_chats", row: "11111111-1111-4111-8111-111111111112|bob|plain|2026-11-27T12:00:01.000Z|1764244801000|0",
	}, {
		event: ev(event.Like, "22222222-2222-4222-8222-222222222222", "bob", "Bob", journeyAt, "1764244800123-1"),
		entry: `{"type":"like","event_id":"22222222-2222-4222-8222-222222222222",` + p + `,"user_id":"bob","name":"Bob","created_at":"2026-11-27T12:00:00.123Z"}`,
		dlq:   `{"type":"like","event_id":"22222222-2222-4222-8222-222222222222",` + p + `,"user_id":"bob","created_at":"2026-11-27T12:00:00.123Z","stream_id":"1764244800123-1"}`,
		frame: `{"type":"like","event_id":"22222222-2222-4222-8222-222222222222","stream_id":"1764244800123-1","user_id":"bob","name":"Bob","likes":41,"ts":"2026-11-27T12:00:00.123Z"}`,
		table: "watch_party_likes", row: "22222222-2222-4222-8222-222222222222|bob|2026-11-27T12:00:00.123Z",
	}, {
		event: play,
		entry: `{"type":"play","event_id":"33333333-3333-4333-8333-333333333333",` + p + `,"user_id":"host","name":"Host","created_at":"2026-11-27T12:00:00.123Z","position_ms":120000}`,
		dlq:   `{"type":"play","event_id":"33333333-3333-4333-8333-333333333333",` + p + `,"user_id":"host","created_at":"2026-11-27T12:00:00.123Z","position_ms":120000,"stream_id":"1764244800123-2"}`,
		frame: `{"type":"play","event_id":"33333333-3333-4333-8333-333333333333","stream_id":"1764244800123-2","user_id":"host","name":"Host","position_ms":120000,"ts":"2026-11-27T12:00:00.123Z"}`,
		table: "watch_party_logs", row: "33333333-3333-4333-8333-333333333333|host|play|120000|2026-11-27T12:00:00.123Z",
	}, {
		event: pause,
		entry: `{"type":"pause","event_id":"44444444-4444-4444-8444-444444444444",` + p + `,"user_id":"host","name":"Host","created_at":"2026-11-27T12:00:00.123Z","position_ms":120000}`,
		dlq:   `{"type":"pause","event_id":"44444444-4444-4444-8444-444444444444",` + p + `,"user_id":"host","created_at":"2026-11-27T12:00:00.123Z","position_ms":120000,"stream_id":"1764244800123-3"}`,
		frame: `{"type":"pause","event_id":"44444444-4444-4444-8444-444444444444","stream_id":"1764244800123-3","user_id":"host","name":"Host","position_ms":120000,"ts":"2026-11-27T12:00:00.123Z"}`,
		table: "watch_party_logs", row: "44444444-4444-4444-8444-444444444444|host|pause|120000|2026-11-27T12:00:00.123Z",
	}, {
		event: seek,
		entry: `{"type":"seek","event_id":"55555555-5555-4555-8555-555555555555",` + p + `,"user_id":"host","name":"Host","created_at":"2026-11-27T12:00:00.123Z","position_ms":0}`,
		dlq:   `{"type":"seek","event_id":"55555555-5555-4555-8555-555555555555",` + p + `,"user_id":"host","created_at":"2026-11-27T12:00:00.123Z","position_ms":0,"stream_id":"1764244800123-4"}`,
		frame: `{"type":"seek","event_id":"55555555-5555-4555-8555-555555555555","stream_id":"1764244800123-4","user_id":"host","name":"Host","position_ms":0,"ts":"2026-11-27T12:00:00.123Z"}`,
		table: "watch_party_logs", row: "55555555-5555-4555-8555-555555555555|host|seek|0|2026-11-27T12:00:00.123Z",
	}, {
		event: ev(event.Join, "66666666-6666-4666-8666-666666666666", "carol", "Carol", journeyAt, "1764244800123-5"),
		entry: `{"type":"join","event_id":"66666666-6666-4666-8666-666666666666",` + p + `,"user_id":"carol","name":"Carol","created_at":"2026-11-27T12:00:00.123Z"}`,
		dlq:   `{"type":"join","event_id":"66666666-6666-4666-8666-666666666666",` + p + `,"user_id":"carol","created_at":"2026-11-27T12:00:00.123Z","stream_id":"1764244800123-5"}`,
		frame: `{"type":"join","event_id":"66666666-6666-4666-8666-666666666666","stream_id":"1764244800123-5","user_id":"carol","name":"Carol","ts":"2026-11-27T12:00:00.123Z"}`,
		table: "watch_party_logs", row: "66666666-6666-4666-8666-666666666666|carol|join|2026-11-27T12:00:00.123Z",
	}, {
		event: ev(event.Leave, "77777777-7777-4777-8777-777777777777", "carol", "Carol", journeyAt, "1764244800123-6"),
		entry: `{"type":"leave","event_id":"77777777-7777-4777-8777-777777777777",` + p + `,"user_id":"carol","name":"Carol","created_at":"2026-11-27T12:00:00.123Z"}`,
		dlq:   `{"type":"leave","event_id":"77777777-7777-4777-8777-777777777777",` + p + `,"user_id":"carol","created_at":"2026-11-27T12:00:00.123Z","stream_id":"1764244800123-6"}`,
		frame: `{"type":"leave","event_id":"77777777-7777-4777-8777-777777777777","stream_id":"1764244800123-6","user_id":"carol","name":"Carol","ts":"2026-11-27T12:00:00.123Z"}`,
		table: "watch_party_logs", row: "77777777-7777-4777-8777-777777777777|carol|leave|2026-11-27T12:00:00.123Z",
	}, {
		event: viewers,
		entry: `{"type":"viewers","event_id":"88888888-8888-4888-8888-888888888888",` + p + `,"user_id":"","created_at":"2026-11-27T12:00:00Z","viewers":13}`,
		dlq:   `{"type":"viewers","event_id":"88888888-8888-4888-8888-888888888888",` + p + `,"user_id":"","created_at":"2026-11-27T12:00:00.000Z","viewers":13,"stream_id":"1764244800000-0"}`,
		frame: `{"type":"viewers","event_id":"88888888-8888-4888-8888-888888888888","stream_id":"1764244800000-0","user_id":"","ts":"2026-11-27T12:00:00.000Z"}`,
		table: "watch_party_viewer_counts", row: "2026-11-27T12:00:00.000Z|13",
	}, {
		event: del,
		entry: `{"type":"delete","event_id":"99999999-9999-4999-8999-999999999990",` + p + `,"user_id":"mod","created_at":"2026-11-27T12:00:00.123Z","target_event_id":"11111111-1111-4111-8111-111111111111"}`,
		dlq:   `{"type":"delete","event_id":"99999999-9999-4999-8999-999999999990",` + p + `,"user_id":"mod","created_at":"2026-11-27T12:00:00.123Z","target_event_id":"11111111-1111-4111-8111-111111111111","stream_id":"1764244800123-7"}`,
		frame: `{"type":"delete","event_id":"99999999-9999-4999-8999-999999999990","stream_id":"1764244800123-7","user_id":"mod","target_event_id":"11111111-1111-4111-8111-111111111111","ts":"2026-11-27T12:00:00.123Z"}`,
		table: "watch_party_logs", row: "99999999-9999-4999-8999-999999999990|mod|delete|2026-11-27T12:00:00.123Z|11111111-1111-4111-8111-111111111111",
	}, {
		event: mute,
		entry: `{"type":"mute","event_id":"99999999-9999-4999-8999-999999999991",` + p + `,"user_id":"host","name":"Host","created_at":"2026-11-27T12:00:00.123Z","target_user_id":"bob","until":"2026-11-27T12:10:00.123Z"}`,
		dlq:   `{"type":"mute","event_id":"99999999-9999-4999-8999-999999999991",` + p + `,"user_id":"host","created_at":"2026-11-27T12:00:00.123Z","target_user_id":"bob","until":"2026-11-27T12:10:00.123Z","stream_id":"1764244800123-8"}`,
		frame: `{"type":"mute","event_id":"99999999-9999-4999-8999-999999999991","stream_id":"1764244800123-8","user_id":"host","name":"Host","target_user_id":"bob","until":"2026-11-27T12:10:00.123Z","ts":"2026-11-27T12:00:00.123Z"}`,
		table: "watch_party_logs", row: "99999999-9999-4999-8999-999999999991|host|mute|2026-11-27T12:00:00.123Z|bob|2026-11-27T12:10:00.123Z",
	}}, append(targeted(p), reactionJourney(ev, p))...)
}

// reactionJourney is a reaction: its emoji, a field only its kind declares,
// comes last in each form, and it is stored as a count.
func reactionJourney(ev func(typ event.Type, id, user, name string, at time.Time, sid string) event.Event, p string) journey {
	r := ev(event.Reaction, "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "dan", "Dan", journeyAt.Add(500*time.Millisecond), "1764244800623-0")
	r.Text = "🎉"
	return journey{
		event: r,
		entry: `{"type":"reaction","event_id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",` + p + `,"user_id":"dan","name":"Dan","created_at":"2026-11-27T12:00:00.623Z","emoji":"🎉"}`,
		dlq:   `{"type":"reaction","event_id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",` + p + `,"user_id":"dan","created_at":"2026-11-27T12:00:00.623Z","stream_id":"1764244800623-0","emoji":"🎉"}`,
		frame: `{"type":"reaction","event_id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","stream_id":"1764244800623-0","user_id":"dan","name":"Dan","ts":"2026-11-27T12:00:00.623Z","emoji":"🎉"}`,
		table: "watch_party_event_counts", row: "reaction|🎉|2026-11-27T12:00:00.000Z|1",
	}
}

// targeted returns a journey for each moderation type that carries only
// the user it acts on.
func targeted(p string) []journey {
	var out []journey
	for i, typ := range []event.Type{event.Unmute, event.Kick, event.Ban, event.Unban, event.ModeratorAdd, event.ModeratorRemove} {
		id := fmt.Sprintf("99999999-9999-4999-8999-99999999999%d", i+2)
		sid := fmt.Sprintf("1764244800123-%d", i+9)
		e := event.Event{Type: typ, ID: uuid.MustParse(id), PartyID: journeyParty, UserID: "host",
			CreatedAt: journeyAt, StreamID: sid, Target: "bob"}
		out = append(out, journey{
			event: e,
			entry: `{"type":"` + string(typ) + `","event_id":"` + id + `",` + p + `,"user_id":"host","created_at":"2026-11-27T12:00:00.123Z","target_user_id":"bob"}`,
			dlq:   `{"type":"` + string(typ) + `","event_id":"` + id + `",` + p + `,"user_id":"host","created_at":"2026-11-27T12:00:00.123Z","target_user_id":"bob","stream_id":"` + sid + `"}`,
			frame: `{"type":"` + string(typ) + `","event_id":"` + id + `","stream_id":"` + sid + `","user_id":"host","target_user_id":"bob","ts":"2026-11-27T12:00:00.123Z"}`,
			table: "watch_party_logs", row: id + "|host|" + string(typ) + "|2026-11-27T12:00:00.123Z|bob",
		})
	}
	return out
}

// TestEveryEventTypeThroughEveryEncoding carries one event of each type the
// whole way: its stream entry fields are decoded, dead-lettered (as an
// event and as a raw entry), read back from the dead-letter JSON, broadcast
// and written to PostgreSQL. Every form is compared with its literal text,
// every decoded event field by field, so a field dropped or renamed by any
// encoding fails here.
func TestEveryEventTypeThroughEveryEncoding(t *testing.T) {
	js := journeys()
	seen := map[event.Type]bool{}
	for _, j := range js {
		seen[j.event.Type] = true
	}
	for _, typ := range event.Types {
		if !seen[typ] {
			t.Fatalf("no journey for event type %q", typ)
		}
	}
	db := newDB(t)
	insertParty(t, db, journeyParty)

	var decoded []event.Event
	var raws []dlq.RawEntry
	for _, j := range js {
		payload, err := event.Encode(j.event)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(payload); got != j.entry {
			t.Errorf("%s stream entry:\n got %s\nwant %s", j.event.Type, got, j.entry)
		}
		fields := map[string]string{"e": string(payload)}
		e, err := stream.DecodeFields(journeyParty, j.event.StreamID, fields, nil)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(j.event, e); diff != "" {
			t.Errorf("%s decoded from the stream entry (-want +got):\n%s", j.event.Type, diff)
		}
		decoded = append(decoded, e)
		raws = append(raws, dlq.RawEntry{StreamID: j.event.StreamID, Fields: fields})
	}

	b := dlq.NewBatch("wp:{"+journeyParty.String()+"}:events", decoded, nil, 1, journeyAt)
	b.Raw = raws
	doc, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var stored struct {
		Events []json.RawMessage `json:"events"`
		Raw    []dlq.RawEntry    `json:"raw"`
	}
	if err := json.Unmarshal(doc, &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored.Events) != len(js) || len(stored.Raw) != len(js) {
		t.Fatalf("dead-letter document holds %d events and %d raw entries, want %d of each: %s",
			len(stored.Events), len(stored.Raw), len(js), doc)
	}
	var back dlq.Batch
	if err := json.Unmarshal(doc, &back); err != nil {
		t.Fatal(err)
	}
	for i, j := range js {
		if got := string(stored.Events[i]); got != j.dlq {
			t.Errorf("%s dead-letter event:\n got %s\nwant %s", j.event.Type, got, j.dlq)
		}
		want := j.event
		want.Name = "" // a dead-letter batch keeps no display names
		if diff := cmp.Diff(want, back.Events[i]); diff != "" {
			t.Errorf("%s decoded from the dead-letter event (-want +got):\n%s", j.event.Type, diff)
		}
		raw := back.Raw[i]
		e, err := stream.DecodeFields(journeyParty, raw.StreamID, raw.Fields, nil)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(j.event, e); diff != "" {
			t.Errorf("%s decoded from the dead-letter raw entry (-want +got):\n%s", j.event.Type, diff)
		}
		frame, err := event.BroadcastFrame(e, 41)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(frame); got != j.frame {
			t.Errorf("%s frame:\n got %s\nwant %s", j.event.Type, got, j.frame)
		}
	}

	if err := store.NewWriter(db).Write(context.Background(), back.ToEvents()); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, j := range js {
		want = append(want, j.table+": "+j.row)
	}
	if diff := cmp.Diff(want, storedRows(t, db)); diff != "" {
		t.Errorf("rows written (-want +got):\n%s", diff)
	}
}

func insertParty(t *testing.T, db *pgxpool.Pool, id uuid.UUID) {
	t.Helper()
	err := store.NewParties(db).Insert(context.Background(), store.Party{ID: id, Title: "t", VideoURL: "v",
		HostUserID: "host", StartTime: journeyAt, EndTime: journeyAt.Add(time.Hour), Status: store.Ongoing,
		Control: store.ControlHost})
	if err != nil {
		t.Fatal(err)
	}
}

// storedRows returns every event row of journeyParty as "table: col|col…",
// times in UTC with milliseconds, in the order of journeys().
func storedRows(t *testing.T, db *pgxpool.Pool) []string {
	t.Helper()
	const ts = `to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
	at := func(col string) string { return strings.Replace(ts, "%s", col, 1) }
	query := `
		SELECT 'watch_party_chats: ' || concat_ws('|', event_id, user_id, body, ` + at("created_at") + `, stream_ms, stream_seq,
			` + at("deleted_at") + `, deleted_by), event_id::text
		FROM watch_party_chats WHERE party_id = $1
		UNION ALL
		SELECT 'watch_party_likes: ' || concat_ws('|', event_id, user_id, ` + at("created_at") + `), event_id::text
		FROM watch_party_likes WHERE party_id = $1
		UNION ALL
		SELECT 'watch_party_logs: ' || concat_ws('|', event_id, user_id, action, position_ms, ` + at("created_at") + `,
			target_user_id, target_event_id, ` + at("until") + `), event_id::text
		FROM watch_party_logs WHERE party_id = $1
		UNION ALL
		SELECT 'watch_party_viewer_counts: ' || concat_ws('|', ` + at("sampled_at") + `, viewers), '8'
		FROM watch_party_viewer_counts WHERE party_id = $1
		UNION ALL
		SELECT 'watch_party_event_counts: ' || concat_ws('|', type, value, ` + at("second") + `, count), 'a'
		FROM watch_party_event_counts WHERE party_id = $1
		ORDER BY 2`
	rows, err := db.Query(context.Background(), query, journeyParty)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var row, key string
		if err := rows.Scan(&row, &key); err != nil {
			t.Fatal(err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
