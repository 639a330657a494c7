package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// sioReport is one line agent.js wrote: what a stock socket.io-client
// socket saw.
type sioReport struct {
	Name      string            `json:"name"`
	Ev        string            `json:"ev"`
	Recovered bool              `json:"recovered"`
	Message   string            `json:"message"`
	Data      json.RawMessage   `json:"data"`
	Reason    string            `json:"reason"`
	Event     string            `json:"event"`
	Args      []json.RawMessage `json:"args"`
	Tag       string            `json:"tag"`
}

// sioAgent runs e2e/socketio/agent.js under Node: socket.io-client 4.8 as
// installed by scripts/deps.sh (npm ci).
type sioAgent struct {
	t     testing.TB
	stdin io.WriteCloser

	mu      sync.Mutex
	reports map[string][]sioReport
}

func startSIOAgent(t testing.TB) *sioAgent {
	t.Helper()
	dir, err := filepath.Abs("socketio")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io-client")); err != nil {
		t.Fatalf("socket.io-client is not installed in e2e/socketio: run scripts/deps.sh (npm ci): %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: run scripts/deps.sh: %v", err)
	}
	cmd := exec.Command(node, "agent.js")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &sioAgent{t: t, stdin: stdin, reports: map[string][]sioReport{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r sioReport
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				continue
			}
			a.mu.Lock()
			a.reports[r.Name] = append(a.reports[r.Name], r)
			a.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = stdin.Close() // agent.js exits when its stdin closes
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = cmd.Wait()
	})
	return a
}

func (a *sioAgent) send(cmd map[string]any) {
	b, err := json.Marshal(cmd)
	if err == nil {
		_, err = a.stdin.Write(append(b, '\n'))
	}
	if err != nil {
		a.t.Errorf("agent: %v", err) // not Fatal: callers run in subtests
	}
}

func (a *sioAgent) connect(name, addr, party string, auth map[string]string) {
	a.send(map[string]any{"cmd": "connect", "name": name, "url": "http://" + addr, "nsp": "/parties/" + party, "auth": auth})
}

// emit sends event; with a tag the ack callback's argument is reported.
func (a *sioAgent) emit(name, event string, payload any, tag string) {
	cmd := map[string]any{"cmd": "emit", "name": name, "event": event, "payload": payload}
	if tag != "" {
		cmd["tag"] = tag
	}
	a.send(cmd)
}

// log is what socket name reported so far.
func (a *sioAgent) log(name string) []sioReport {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]sioReport(nil), a.reports[name]...)
}

// await waits until name reported something matching ok, and returns the
// first such report.
func (a *sioAgent) await(t testing.TB, name, what string, ok func(sioReport) bool) sioReport {
	t.Helper()
	var got sioReport
	eventually(t, 20*time.Second, name+": "+what, func() bool {
		for _, r := range a.log(name) {
			if ok(r) {
				got = r
				return true
			}
		}
		return false
	})
	return got
}

// ack waits for the ack of tag and decodes it.
func (a *sioAgent) ack(t testing.TB, name, tag string) sioAck {
	t.Helper()
	r := a.await(t, name, "ack "+tag, func(r sioReport) bool { return r.Ev == "ack" && r.Tag == tag })
	var ack sioAck
	if err := json.Unmarshal(r.Data, &ack); err != nil {
		t.Fatalf("%s: ack %s: %v (%s)", name, tag, err, r.Data)
	}
	return ack
}

type sioAck struct {
	EventID  string `json:"event_id"`
	StreamID string `json:"stream_id"`
	Error    *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// sioChat is a chat event as a socket received it.
type sioChat struct {
	frame
	Offset string
}

// chats is every chat event name received, in order.
func (a *sioAgent) chats(name string) []sioChat {
	var out []sioChat
	for _, r := range a.log(name) {
		if r.Ev != "event" || r.Event != "chat" || len(r.Args) == 0 {
			continue
		}
		var c sioChat
		_ = json.Unmarshal(r.Args[0], &c.frame)
		c.Raw = string(r.Args[0])
		if len(r.Args) > 1 {
			_ = json.Unmarshal(r.Args[len(r.Args)-1], &c.Offset)
		}
		out = append(out, c)
	}
	return out
}
