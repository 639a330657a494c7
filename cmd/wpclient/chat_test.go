package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
)

func TestClientFrame(t *testing.T) {
	tests := []struct {
		name, line string
		want       map[string]any
		wantErr    bool
	}{
		{name: "chat", line: "hello there", want: map[string]any{"type": "chat", "id": "c1", "text": "hello there"}},
		{name: "escaped slash", line: "//not a command", want: map[string]any{"type": "chat", "id": "c1", "text": "/not a command"}},
		{name: "like", line: "/like", want: map[string]any{"type": "like", "id": "c1"}},
		{name: "play", line: "/play 1000", want: map[string]any{"type": "play", "id": "c1", "position_ms": int64(1000)}},
		{name: "seek", line: "/seek 0", want: map[string]any{"type": "seek", "id": "c1", "position_ms": int64(0)}},
		{name: "pause without position", line: "/pause", wantErr: true},
		{name: "bad position", line: "/seek soon", wantErr: true},
		{name: "unknown command", line: "/dance", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := clientFrame(tt.line, "c1")
			if (err != nil) != tt.wantErr {
				t.Fatalf("clientFrame(%q) error = %v, want error %v", tt.line, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("clientFrame(%q) (-want +got):\n%s", tt.line, diff)
			}
		})
	}
}

func TestSocketURL(t *testing.T) {
	tests := []struct {
		name, base, user, token, since, want string
		wantErr                              bool
	}{
		{name: "dev user", base: "ws://localhost:8080", user: "bob", want: "ws://localhost:8080/ws/parties/p1?user=bob"},
		{name: "token wins", base: "ws://localhost:8080/", user: "bob", token: "t.k.n", want: "ws://localhost:8080/ws/parties/p1?token=t.k.n"},
		{name: "http becomes ws", base: "http://h:1", user: "bob", since: "1-0", want: "ws://h:1/ws/parties/p1?since=1-0&user=bob"},
		{name: "https becomes wss", base: "https://h", user: "bob", want: "wss://h/ws/parties/p1?user=bob"},
		{name: "no identity", base: "ws://h", wantErr: true},
		{name: "bad scheme", base: "ftp://h", user: "bob", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := socketURL(tt.base, "p1", tt.user, tt.token, tt.since)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("socketURL() = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestDefaultGatewayURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":          "ws://localhost:8080",
		"0.0.0.0:9000":   "ws://localhost:9000",
		"[::]:9000":      "ws://localhost:9000",
		"example.com:80": "ws://example.com:80",
	} {
		t.Setenv("GATEWAY_ADDR", addr)
		if got := defaultGatewayURL("ws"); got != want {
			t.Errorf("GATEWAY_ADDR=%q: got %q, want %q", addr, got, want)
		}
	}
}

// TestRunChat talks to a fake gateway that acks every frame: each stdin line
// goes out with ids c1, c2, ... and every frame received is printed on one line.
func TestRunChat(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.WriteMessage(websocket.TextMessage, []byte("{\n \"type\": \"welcome\"\n}"))
		for {
			var f map[string]any
			if err := conn.ReadJSON(&f); err != nil {
				return
			}
			mu.Lock()
			got = append(got, f)
			mu.Unlock()
			_ = conn.WriteJSON(map[string]any{"type": "ack", "id": f["id"]})
		}
	}))
	defer srv.Close()

	var out bytes.Buffer
	target := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/parties/p1?user=bob"
	if err := runChat(context.Background(), target, strings.NewReader("hi\n\n/like\n"), &out); err != nil {
		t.Fatalf("runChat: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []map[string]any{{"type": "chat", "id": "c1", "text": "hi"}, {"type": "like", "id": "c2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("frames sent (-want +got):\n%s", diff)
	}
	wantOut := `{"type":"welcome"}` + "\n" + `{"id":"c1","type":"ack"}` + "\n" + `{"id":"c2","type":"ack"}` + "\n"
	if diff := cmp.Diff(wantOut, out.String()); diff != "" {
		t.Errorf("printed (-want +got):\n%s", diff)
	}
}
