package bench

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

var (
	sioViewers = flagInt("fanout.socketio-viewers", 1000, "BenchmarkFanoutSocketIO: viewers of the party")
	sioRates   = flag2ints("fanout.socketio-rates", "100,400", "BenchmarkFanoutSocketIO: chats/s of its steps")
)

// BenchmarkFanoutSocketIO measures what Socket.IO framing costs the
// gateway: the fan-out steps of BenchmarkFanout on a gateway whose viewers
// are all on /ws, then on a fresh one where every other viewer is on
// /socket.io/ (docs/socketio.md), side by side. The Socket.IO viewers'
// frames are each re-encoded for them, once per viewer; the difference in
// server CPU per delivery, doubled (half the deliveries are Socket.IO),
// is that cost.
func BenchmarkFanoutSocketIO(b *testing.B) {
	b.StopTimer()
	raiseNoFile(b)
	ctx := context.Background()
	env := newEnv(b)
	b.StartTimer()
	ws := sioFanout(ctx, b, env, false)
	mixed := sioFanout(ctx, b, env, true)
	b.StopTimer()

	var sb strings.Builder
	fmt.Fprintf(&sb, "Fan-out, %s: all viewers on /ws / half of them on Socket.IO.\n\n", machine())
	sb.WriteString("| viewers × chats/s | delivered/s | latency p50 ms | p99 ms | server CPU µs/delivery | Socket.IO framing µs/delivery | missing | out of order or duplicate |\n|---|---|---|---|---|---|---|---|\n")
	var extra float64
	for i, w := range ws {
		m := mixed[i]
		extra = 2 * (m.cpuPerDelivery - w.cpuPerDelivery)
		fmt.Fprintf(&sb, "| %s × %d | %.0f / %.0f | %.1f / %.1f | %.1f / %.1f | %.2f / %.2f | %.2f | %d / %d | %d / %d |\n",
			thousands(w.viewers), w.rate, w.deliveredPerSec, m.deliveredPerSec, ms(w.p50), ms(m.p50), ms(w.p99), ms(m.p99),
			w.cpuPerDelivery, m.cpuPerDelivery, extra, w.missing, m.missing, w.orderErrs+w.dups, m.orderErrs+m.dups)
		if m.orderErrs > 0 || m.dups > 0 || w.orderErrs > 0 || w.dups > 0 {
			b.Errorf("%d viewers × %d/s: out-of-order or duplicate deliveries", w.viewers, w.rate)
		}
	}
	fmt.Println(sb.String())
	b.ReportMetric(extra, "socketio_extra_cpu_us/delivery")
}

// sioFanout runs the steps on a fresh gateway; mixed puts every other
// viewer on Socket.IO.
func sioFanout(ctx context.Context, b *testing.B, env *env, mixed bool) []*stepResult {
	b.Helper()
	srv := startGatewayProc(ctx, b, env)
	if mixed {
		srv.name, srv.proto = "gateway, half Socket.IO", mixedProto{srv.proto.(gatewayProto)}
	} else {
		srv.name = "gateway, all /ws"
	}
	st := &fanoutState{}
	party := srv.channel(-1)
	pub := dialPublisher(ctx, b, srv, party)
	defer pub.close()
	viewers := connectViewers(ctx, b, srv, party, nil, *sioViewers, st)
	defer func() {
		for _, v := range viewers {
			_ = v.conn.Close()
		}
	}()
	var out []*stepResult
	for _, rate := range *sioRates {
		viewers = reviveViewers(ctx, b, srv, party, viewers, st)
		s := runStep(ctx, b, env, srv, pub, viewers, st, rate, false)
		say(b, "%s: %d viewers × %d chats/s: %.0f delivered/s; p50 %.1fms p99 %.1fms; server %.2fµs, load tool %.2fµs per delivery; %.3f write syscalls per delivery; %d missing, %d out of order, %d duplicates",
			srv.name, s.viewers, s.rate, s.deliveredPerSec, ms(s.p50), ms(s.p99), s.cpuPerDelivery, s.loadPerDelivery,
			s.syscallsPerDeliv, s.missing, s.orderErrs, s.dups)
		out = append(out, s)
	}
	return out
}

// mixedProto is the gateway's protocol with the viewers of odd number on
// Socket.IO (the publisher stays on /ws).
type mixedProto struct{ gatewayProto }

func (m mixedProto) dial(ctx context.Context, party, user string) (*websocket.Conn, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(user, "v"))
	if err != nil || n%2 == 0 {
		return m.gatewayProto.dial(ctx, party, user)
	}
	url := "ws://" + m.addr + "/socket.io/?EIO=4&transport=websocket"
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	nsp := "/parties/" + party
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`40`+nsp+`,{"user":"`+user+`"}`)); err != nil {
		conn.Close()
		return nil, err
	}
	welcome := []byte(`42` + nsp + `,["welcome"`)
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("read welcome: %w", err)
		}
		if bytes.HasPrefix(msg, welcome) {
			return conn, nil
		}
	}
}

var sioEventStart = []byte(`,["`)

// classify reads a Socket.IO event by the /ws frame it carries.
func (m mixedProto) classify(line []byte) (msgKind, int) {
	if len(line) == 0 || line[0] != '4' {
		return m.gatewayProto.classify(line)
	}
	i := bytes.Index(line, sioEventStart)
	if i < 0 {
		return kindOther, 0
	}
	rest := line[i+len(sioEventStart):]
	j := bytes.Index(rest, []byte(`",`))
	if j < 0 {
		return kindOther, 0
	}
	return m.gatewayProto.classify(rest[j+2:])
}
