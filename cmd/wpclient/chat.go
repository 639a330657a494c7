package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/spf13/cobra"
)

// ackWait is how long chat waits, after stdin ends, for the acks of what it sent.
const ackWait = 3 * time.Second

func newChatCmd() *cobra.Command {
	var base, party, user, token, since string
	cmd := &cobra.Command{
		Use:   "chat",
		Short: "Join a party over WebSocket: print every frame, send each stdin line as a chat",
		Long: `Join a party over the gateway's WebSocket. Every frame received is printed on
its own line; every line read from stdin is sent as a chat frame with ids c1, c2, ...

A line starting with "/" is a command instead:
  /like             send a like
  /play MS          play from MS milliseconds (host only unless control is everyone)
  /pause MS         pause at MS
  /seek MS          seek to MS
  /quit             close the connection
  //text            send the chat "/text"

When stdin ends, chat waits up to 3s for the acks of what it sent, then closes.
Authentication: --user works when the gateway runs with WATCH_PARTY_DEV_AUTH=true;
otherwise pass --token (see "wpclient token").`,
		Example: `  wpclient chat --party ` + demoPartyID + ` --user bob
  echo hello | wpclient chat --url ws://localhost:8081 --token "$(wpclient token --user bob)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			target, err := socketURL(base, party, user, token, since)
			if err != nil {
				return err
			}
			return runChat(cmd.Context(), target, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&base, "url", defaultGatewayURL("ws"), "gateway base URL (default from GATEWAY_ADDR)")
	f.StringVar(&party, "party", demoPartyID, "party id")
	f.StringVar(&user, "user", "", "user id (dev auth: the gateway needs WATCH_PARTY_DEV_AUTH=true)")
	f.StringVar(&token, "token", "", "HS256 JWT signed with WATCH_PARTY_AUTH_SECRET (overrides --user)")
	f.StringVar(&since, "since", "", "resume after this stream id")
	return cmd
}

// socketURL builds ws://host/ws/parties/{party}?token=...|user=...[&since=...].
func socketURL(base, party, user, token, since string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("parse --url %q: %w", base, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("--url %q: scheme must be ws, wss, http or https", base)
	}
	if party == "" {
		return "", errors.New("--party is required")
	}
	q := url.Values{}
	switch {
	case token != "":
		q.Set("token", token)
	case user != "":
		q.Set("user", user)
	default:
		return "", errors.New("give --user (dev auth) or --token")
	}
	if since != "" {
		q.Set("since", since)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/ws/parties/" + url.PathEscape(party)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// redact hides the token in a socket URL so it can be printed.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	if q.Has("token") {
		q.Set("token", "REDACTED")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func runChat(ctx context.Context, target string, in io.Reader, out io.Writer) error {
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, target, nil)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			return fmt.Errorf("connect %s: %s %s", redact(target), resp.Status, bytes.TrimSpace(body))
		}
		return fmt.Errorf("connect %s: %w", redact(target), err)
	}
	defer conn.Close()
	fmt.Fprintf(os.Stderr, "connected to %s (type a line to chat, /quit or Ctrl-D to leave)\n", redact(target))

	replies := make(chan string, 64) // ids of ack and error frames
	closed := make(chan error, 1)
	go readFrames(conn, out, replies, closed)
	lines := make(chan string)
	go readLines(in, lines)

	s := &chatSender{conn: conn, pending: map[string]bool{}}
	for {
		select {
		case <-ctx.Done():
			return s.close(closed)
		case err := <-closed:
			return closeResult(err)
		case id := <-replies:
			delete(s.pending, id)
		case line, ok := <-lines:
			if !ok || line == "/quit" {
				s.awaitReplies(replies, closed)
				return s.close(closed)
			}
			if err := s.send(line); err != nil {
				fmt.Fprintln(os.Stderr, "wpclient:", err)
			}
		}
	}
}

// readFrames prints every frame on one line and reports reply ids, until the
// connection ends; the reason goes to closed.
func readFrames(conn *websocket.Conn, out io.Writer, replies chan<- string, closed chan<- error) {
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			closed <- err
			return
		}
		fmt.Fprintln(out, oneLine(data))
		var f struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}
		if json.Unmarshal(data, &f) == nil && f.ID != "" && (f.Type == "ack" || f.Type == "error") {
			select {
			case replies <- f.ID:
			default:
			}
		}
	}
}

// readLines sends stdin's lines to lines and closes it at EOF.
func readLines(in io.Reader, lines chan<- string) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines <- sc.Text()
	}
	close(lines)
}

// oneLine compacts a JSON frame (or escapes newlines of anything else) so that
// each frame prints as exactly one line.
func oneLine(data []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, data) == nil {
		return buf.String()
	}
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(string(data))
}

// chatSender numbers and writes client frames; it is used by one goroutine.
type chatSender struct {
	conn    *websocket.Conn
	next    int
	pending map[string]bool
}

func (s *chatSender) send(line string) error {
	if strings.TrimSpace(line) == "" {
		return nil
	}
	frame, err := clientFrame(line, fmt.Sprintf("c%d", s.next+1))
	if err != nil {
		return err
	}
	s.next++
	id, _ := frame["id"].(string)
	s.pending[id] = true
	if err := s.conn.WriteJSON(frame); err != nil {
		return fmt.Errorf("send %s: %w", id, err)
	}
	return nil
}

// clientFrame turns one input line into a client frame with the given id.
func clientFrame(line, id string) (map[string]any, error) {
	if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "//") {
		return map[string]any{"type": "chat", "id": id, "text": strings.TrimPrefix(line, "/")}, nil
	}
	fields := strings.Fields(line)
	switch name := strings.TrimPrefix(fields[0], "/"); name {
	case "like":
		return map[string]any{"type": "like", "id": id}, nil
	case "play", "pause", "seek":
		if len(fields) != 2 {
			return nil, fmt.Errorf("usage: /%s POSITION_MS", name)
		}
		ms, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/%s: position %q is not an integer", name, fields[1])
		}
		return map[string]any{"type": name, "id": id, "position_ms": ms}, nil
	default:
		return nil, fmt.Errorf("unknown command %q (try /like, /play MS, /pause MS, /seek MS, /quit)", fields[0])
	}
}

// awaitReplies waits up to ackWait for an ack or error for every frame sent.
func (s *chatSender) awaitReplies(replies <-chan string, closed chan error) {
	deadline := time.After(ackWait)
	for len(s.pending) > 0 {
		select {
		case id := <-replies:
			delete(s.pending, id)
		case err := <-closed:
			closed <- err // let close() see it
			return
		case <-deadline:
			fmt.Fprintf(os.Stderr, "wpclient: no reply for %d frame(s) after %s\n", len(s.pending), ackWait)
			return
		}
	}
}

// close sends a normal close frame and waits briefly for the server's.
func (s *chatSender) close(closed <-chan error) error {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	_ = s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	select {
	case err := <-closed:
		return closeResult(err)
	case <-time.After(2 * time.Second):
		return nil
	}
}

// closeResult reports how the connection ended; a normal close is no error.
func closeResult(err error) error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		fmt.Fprintln(os.Stderr, strings.TrimSpace(fmt.Sprintf("closed: %d %s", ce.Code, ce.Text)))
		if ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway {
			return nil
		}
		return fmt.Errorf("connection closed with %d %s", ce.Code, ce.Text)
	}
	return fmt.Errorf("connection lost: %w", err)
}
