package gateway

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/stream"
)

// maxInFlight is the most events of one connection whose answers may wait
// at once (one more may be on its way to Redis). Reading the connection's
// next frame while its last events are stored lets them share a pipeline
// and their answers share a write; past this many, the connection is not
// read until one is answered (TCP then slows the client down).
const maxInFlight = 16

// inFlight is a connection's events sent to Redis (with Appender.Submit)
// whose answers were not yet written, oldest first. They are answered in
// the order they were read, by one short-lived goroutine at a time,
// started when the first is sent and ending when none is left. Every
// other frame's answer waits for them (settle), so a client gets its
// answers in the order of its frames.
type inFlight struct {
	queue     chan *sentEvent // made at the connection's first event
	unwritten sync.WaitGroup  // events sent whose answers are not written yet
	answering atomic.Bool     // a goroutine is answering the queue
}

// sentEvent is one event of inFlight: the frame it came from and its
// append.
type sentEvent struct {
	in      event.Inbound
	e       event.Event
	arrived time.Time
	append  *stream.Pending
}

// settle waits until every event sent before has been answered. Only the
// connection's reading goroutine calls it.
func (f *inFlight) settle() { f.unwritten.Wait() }

// submit sends e, read from frame in, to Redis and has its answer written
// once Redis answers, after the answers of the connection's events sent
// before it. The caller has added e to g.inflight; it is done once
// answered. Only the connection's reading goroutine calls it.
func (g *Gateway) submit(c *conn, in event.Inbound, e event.Event, arrived time.Time) {
	f := &c.appends
	if f.queue == nil {
		f.queue = make(chan *sentEvent, maxInFlight)
	}
	f.unwritten.Add(1)
	f.queue <- &sentEvent{in: in, e: e, arrived: arrived, append: g.appender.Submit(e, in.ClientID != "")}
	if f.answering.CompareAndSwap(false, true) {
		go g.answer(c)
	}
}

// answer writes the answers of c's events in the order they were sent,
// until none is left.
func (g *Gateway) answer(c *conn) {
	f := &c.appends
	for {
		select {
		case s := <-f.queue:
			res, err := s.append.Wait()
			g.appended(c, s.in, s.e, s.arrived, res, err)
			f.unwritten.Done()
			g.inflight.Done()
		default:
			f.answering.Store(false)
			// An event sent between the empty queue and the Store has
			// found answering set and started nobody: take it on,
			// unless its sender started a goroutine after the Store.
			if len(f.queue) == 0 || !f.answering.CompareAndSwap(false, true) {
				return
			}
		}
	}
}
