package dlq_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
)

func TestPushListShowRoundTrip(t *testing.T) {
	rdb := newRedis(t)
	ctx := context.Background()
	p1, p2 := uuid.New(), uuid.New()
	b0 := batch(ev(p1, event.Chat, "a"), ev(p1, event.Seek, "a"), ev(p1, event.Viewers, ""))
	b1 := batch(ev(p2, event.Like, "b"))
	b2 := batch(ev(p1, event.Join, "c"), ev(p1, event.Leave, "c"))
	push(t, rdb, b0, b1, b2)

	// The stored element is the SPEC §6 document, field for field.
	var doc map[string]any
	if err := json.Unmarshal([]byte(raws(t, rdb)[0]), &doc); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"attempts", "error", "events", "failed_at", "party_id", "sqlstate", "stream"}
	if diff := cmp.Diff(wantKeys, keys(doc)); diff != "" {
		t.Errorf("batch fields (-want +got):\n%s", diff)
	}
	want := map[string]any{"party_id": p1.String(), "stream": "wp:{" + p1.String() + "}:events",
		"error": b0.Error, "sqlstate": "23503", "attempts": 5.0, "failed_at": "2026-11-27T12:00:00.123Z"}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("%s = %#v, want %#v", k, doc[k], v)
		}
	}
	events := doc["events"].([]any)
	chat := events[0].(map[string]any)
	wantChat := []string{"created_at", "event_id", "party_id", "stream_id", "text", "type", "user_id"}
	if diff := cmp.Diff(wantChat, keys(chat)); diff != "" {
		t.Errorf("chat event fields (-want +got):\n%s", diff)
	}
	if len(events) != 3 || events[1].(map[string]any)["position_ms"] != 120000.0 || events[2].(map[string]any)["viewers"] != 13.0 {
		t.Errorf("events = %v", events)
	}

	n, err := dlq.Len(ctx, rdb)
	if err != nil || n != 3 {
		t.Fatalf("Len = %d, %v; want 3", n, err)
	}
	list, err := dlq.List(ctx, rdb, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range []dlq.Batch{b0, b1, b2} {
		if list[i].Index != i || list[i].Err != nil || list[i].Claim != nil {
			t.Errorf("list[%d] = index %d, err %v, claim %v", i, list[i].Index, list[i].Err, list[i].Claim)
		}
		if diff := cmp.Diff(b, list[i].Batch); diff != "" {
			t.Errorf("list[%d] (-want +got):\n%s", i, diff)
		}
	}
	if list, _ := dlq.List(ctx, rdb, 2); len(list) != 2 {
		t.Errorf("List(limit 2) returned %d batches", len(list))
	}

	got, raw, err := dlq.Show(ctx, rdb, 1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b1, got); diff != "" {
		t.Errorf("Show(1) (-want +got):\n%s", diff)
	}
	if raw != raws(t, rdb)[1] {
		t.Errorf("Show(1) raw = %s, want the stored element", raw)
	}
	for _, index := range []int{3, -1} {
		if _, _, err := dlq.Show(ctx, rdb, index); !errors.Is(err, dlq.ErrNotFound) {
			t.Errorf("Show(%d) = %v, want ErrNotFound", index, err)
		}
	}
}

func TestListPages(t *testing.T) {
	rdb := newRedis(t)
	ctx := context.Background()
	p := uuid.New()
	for range 250 {
		push(t, rdb, batch(ev(p, event.Like, "a")))
	}
	for _, tt := range []struct{ limit, want int }{{0, 250}, {100, 100}, {120, 120}, {300, 250}, {1, 1}} {
		list, err := dlq.List(ctx, rdb, tt.limit)
		if err != nil || len(list) != tt.want {
			t.Errorf("List(limit %d) = %d batches, %v; want %d", tt.limit, len(list), err, tt.want)
			continue
		}
		for i, it := range list {
			if it.Index != i {
				t.Fatalf("List(limit %d)[%d].Index = %d", tt.limit, i, it.Index)
			}
		}
	}
}

func TestListAndShowUndecodable(t *testing.T) {
	rdb := newRedis(t)
	ctx := context.Background()
	if err := rdb.RPush(ctx, dlq.Key, "not json").Err(); err != nil {
		t.Fatal(err)
	}
	list, err := dlq.List(ctx, rdb, 0)
	if err != nil || len(list) != 1 || list[0].Err == nil || list[0].Raw != "not json" {
		t.Fatalf("List = %+v, %v; want one element with Err", list, err)
	}
	if _, raw, err := dlq.Show(ctx, rdb, 0); err == nil || raw != "not json" {
		t.Errorf("Show = %q, %v; want the raw element and an error", raw, err)
	}
}

func TestPushRefusesEmptyBatch(t *testing.T) {
	rdb := newRedis(t)
	if err := dlq.Push(context.Background(), rdb, dlq.Batch{PartyID: uuid.NewString()}); err == nil {
		t.Error("pushed a batch without events")
	}
}
