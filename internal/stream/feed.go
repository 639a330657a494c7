package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
)

// Sink receives a followed party's events, in stream order, one call at a
// time. Its methods must not block: they run on the feed's receive loop.
type Sink interface {
	// Start is called once, before any Deliver, with the stream's state
	// just before the first entry that will be delivered.
	Start(snap Snapshot)
	// Deliver hands over the next entry. likes is the party's like total
	// after a like event.
	Deliver(e event.Event, likes int64)
	// Ended says the party was closed; it comes after every entry. It may
	// be called more than once.
	Ended()
	// Erased says user's events created until at were erased (flusher
	// erase-user): entries already delivered may no longer exist.
	Erased(user string, at time.Time)
	// Likes says the party's like total is now total: an erased user's
	// like was taken off. It comes in order with Deliver's likes.
	Likes(total int64)
}

// Feed follows party streams live for fan-out: the append script announces
// every entry on the party's sharded pub/sub channel, and the feed hands
// entries to each party's Sink in stream order, catching up from the stream
// itself whenever its subscription was re-established, so a dropped
// connection never loses or reorders an entry. It is safe for concurrent use.
type Feed struct {
	rdb     feedRedis
	cluster bool
	log     *slog.Logger

	done    chan struct{} // closed when Run ends
	mu      sync.Mutex
	closed  bool
	follows map[string]*follow // by channel
	conns   map[string]*feedConn
	wg      sync.WaitGroup

	beforeSnapshot func() // test hook
}

type follow struct {
	party   uuid.UUID
	keys    Keys
	sink    Sink
	conn    *feedConn // guarded by Feed.mu
	ready   chan struct{}
	once    sync.Once
	mu      sync.Mutex
	live    bool
	lastID  string
	pending []string // announcements held back until live
}

type feedConn struct {
	key string
	ps  *rdb.Subscription
	// subscribed says the connection was opened already subscribed to its
	// one party's channel (Redis Cluster: the channel picks the node).
	subscribed bool
	// channel is that one channel, on Redis Cluster.
	channel string
	// retry spaces replacements of a cluster connection whose node
	// dropped or refused the subscription; it passes to the replacement
	// and restarts once a subscription is confirmed.
	retry rdb.Backoff
}

// NewFeed returns a Feed. On Redis Cluster each party gets its own pub/sub
// connection (its channel's slot decides the node); otherwise one connection
// carries every party of the process.
func NewFeed(c rdb.Client, log *slog.Logger) *Feed {
	r := rdb.NewStreams(c)
	return &Feed{rdb: r, cluster: r.Cluster(), log: log, done: make(chan struct{}),
		follows: make(map[string]*follow), conns: make(map[string]*feedConn)}
}

// Follow subscribes to party's entries and returns the id of the last entry
// before them; every entry after it goes to sink.Deliver. A party is
// followed at most once at a time.
func (f *Feed) Follow(ctx context.Context, party uuid.UUID, sink Sink) (string, error) {
	keys := KeysFor(party)
	fl := &follow{party: party, keys: keys, sink: sink, ready: make(chan struct{})}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return "", errors.New("feed is closed")
	}
	if _, dup := f.follows[keys.Channel]; dup {
		f.mu.Unlock()
		return "", fmt.Errorf("party %s is already followed", party)
	}
	f.follows[keys.Channel] = fl
	fl.conn = f.connLocked(ctx, party)
	f.mu.Unlock()

	lastID, err := f.start(ctx, fl)
	if err != nil {
		f.Unfollow(party)
		return "", fmt.Errorf("follow party %s: %w", party, err)
	}
	return lastID, nil
}

func (f *Feed) start(ctx context.Context, fl *follow) (string, error) {
	f.mu.Lock()
	conn := fl.conn
	f.mu.Unlock()
	if !conn.subscribed {
		if err := conn.ps.Subscribe(ctx, fl.keys.Channel); err != nil {
			return "", err
		}
	}
	select {
	case <-fl.ready:
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(10 * time.Second):
		return "", errors.New("no subscription confirmation")
	}
	if f.beforeSnapshot != nil {
		f.beforeSnapshot()
	}
	snap, err := snapshotOf(ctx, f.rdb, fl.party)
	if err != nil {
		return "", err
	}
	lastID := snap.LastID
	fl.mu.Lock()
	defer fl.mu.Unlock()
	fl.lastID, fl.live = lastID, true
	fl.sink.Start(snap)
	for _, m := range fl.pending {
		fl.deliverLocked(m, f.log)
	}
	fl.pending = nil
	if closed, err := isClosed(ctx, f.rdb, fl.party); err == nil && closed {
		fl.sink.Ended()
	}
	return lastID, nil
}

// Unfollow stops delivering party's entries.
func (f *Feed) Unfollow(party uuid.UUID) {
	ch := KeysFor(party).Channel
	f.mu.Lock()
	fl, ok := f.follows[ch]
	var conn *feedConn
	if ok {
		delete(f.follows, ch)
		conn = fl.conn
		if f.cluster && f.conns[conn.key] == conn {
			delete(f.conns, conn.key)
		}
	}
	f.mu.Unlock()
	if !ok {
		return
	}
	if f.cluster {
		_ = conn.ps.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = conn.ps.Unsubscribe(ctx, ch)
}

// Run keeps the feed's connections until ctx ends, then closes them.
func (f *Feed) Run(ctx context.Context) error {
	<-ctx.Done()
	close(f.done)
	f.mu.Lock()
	f.closed = true
	for _, c := range f.conns {
		_ = c.ps.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
	return nil
}

func (f *Feed) connLocked(ctx context.Context, party uuid.UUID) *feedConn {
	key := ""
	if f.cluster {
		key = party.String()
	}
	if c, ok := f.conns[key]; ok {
		return c
	}
	var c *feedConn
	if f.cluster {
		ch := KeysFor(party).Channel
		c = &feedConn{key: key, ps: f.rdb.Subscribe(context.WithoutCancel(ctx), ch), subscribed: true, channel: ch}
	} else {
		c = &feedConn{key: key, ps: f.rdb.Subscribe(context.WithoutCancel(ctx))}
	}
	f.conns[key] = c
	f.wg.Go(func() { f.receive(c) })
	return c
}

// receive is the loop of one pub/sub connection. go-redis reconnects and
// resubscribes by itself after a network error; each (re)subscription
// confirmation triggers a catch-up from the stream. A subscription the
// server ends by itself (Redis Cluster pushes sunsubscribe when the
// channel's slot moves to another node, by resharding or failover) is made
// again, on the node that now serves the slot, and caught up the same way.
func (f *Feed) receive(c *feedConn) {
	ctx := context.Background()
	for {
		msg, err := c.ps.Receive(ctx, 15*time.Second)
		if rdb.IsClosed(err) {
			return
		}
		var nerr interface{ Timeout() bool }
		switch {
		case err != nil && errors.As(err, &nerr) && nerr.Timeout():
			_ = c.ps.Ping(ctx)
		case err != nil && f.isClosed():
			return
		case err != nil && f.cluster && rdb.IsReply(err):
			// The node refused the subscription (MOVED, ASK, TRYAGAIN,
			// CLUSTERDOWN): the slot is served elsewhere now.
			f.log.Warn("live feed subscription refused by its node; resubscribing", "channel", c.channel, "err", err)
			f.replaceConn(c)
			return
		case err != nil:
			f.log.Warn("live feed receive failed; reconnecting", "err", err)
			f.rdb.ReloadSlots(ctx) // a failover may have moved the slot
			time.Sleep(200 * time.Millisecond)
		}
		switch msg.Kind {
		case "ssubscribe":
			c.retry.Reset()
			f.subscribed(msg.Channel)
		case "sunsubscribe":
			if f.lookup(msg.Channel) == nil {
				continue // Unfollow asked for it
			}
			f.log.Warn("redis ended the live feed's subscription (slot moved or failover); resubscribing",
				"channel", msg.Channel)
			if f.cluster {
				f.replaceConn(c)
				return
			}
			if err := c.ps.Subscribe(ctx, msg.Channel); err != nil {
				f.log.Warn("live feed resubscribe failed", "channel", msg.Channel, "err", err)
			}
		case "message":
			f.message(msg.Channel, msg.Payload)
		}
	}
}

// replaceConn closes c, the one-party connection of a Redis Cluster feed
// whose subscription ended, and after a pause opens a new one for the same
// channel, routed by the cluster's current slot map, whose confirmation
// catches the party up. It gives up if the party is no longer followed or
// the feed stops.
func (f *Feed) replaceConn(c *feedConn) {
	_ = c.ps.Close()
	f.rdb.ReloadSlots(context.Background())
	select {
	case <-f.done:
		return
	case <-time.After(c.retry.Next()):
	}
	current := func() *follow {
		fl := f.follows[c.channel]
		if f.closed || fl == nil || fl.conn != c || f.conns[c.key] != c {
			return nil
		}
		return fl
	}
	f.mu.Lock()
	still := current() != nil
	f.mu.Unlock()
	if !still {
		return
	}
	nc := &feedConn{key: c.key, channel: c.channel, subscribed: true, retry: c.retry,
		ps: f.rdb.Subscribe(context.Background(), c.channel)}
	f.mu.Lock()
	defer f.mu.Unlock()
	fl := current()
	if fl == nil {
		_ = nc.ps.Close()
		return
	}
	fl.conn = nc
	f.conns[c.key] = nc
	f.wg.Go(func() { f.receive(nc) })
}

func (f *Feed) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

func (f *Feed) lookup(channel string) *follow {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.follows[channel]
}

func (f *Feed) subscribed(channel string) {
	fl := f.lookup(channel)
	if fl == nil {
		return
	}
	first := false
	fl.once.Do(func() { first = true; close(fl.ready) })
	if first {
		return
	}
	f.catchUp(fl)
}

// catchUp delivers the entries a re-established subscription may have
// missed. Until that read succeeds, live announcements are held back (as
// before the first start) and the read is retried with backoff, so a
// viewer never sees an entry after one it missed.
func (f *Feed) catchUp(fl *follow) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if !fl.live {
		return // a retry is already running
	}
	if err := f.catchUpLocked(fl); err != nil {
		f.log.Warn("live feed catch-up failed; holding live entries and retrying", "party_id", fl.party, "err", err)
		fl.live = false
		f.wg.Go(func() { f.retryCatchUp(fl) })
	}
}

func (f *Feed) retryCatchUp(fl *follow) {
	wait := 50 * time.Millisecond
	for {
		select {
		case <-f.done:
			return
		case <-time.After(wait):
		}
		if f.lookup(fl.keys.Channel) != fl {
			return
		}
		fl.mu.Lock()
		err := f.catchUpLocked(fl)
		if err == nil {
			for _, m := range fl.pending {
				fl.deliverLocked(m, f.log)
			}
			fl.pending, fl.live = nil, true
		}
		fl.mu.Unlock()
		if err == nil {
			f.log.Info("live feed caught up after a retry", "party_id", fl.party)
			return
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// catchUpLocked delivers every entry after fl.lastID, MaxPage at a time.
func (f *Feed) catchUpLocked(fl *follow) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		page, err := readAfter(ctx, f.rdb, fl.keys, fl.lastID, MaxPage)
		if err != nil {
			return err
		}
		if page.Lost {
			f.log.Error("live feed missed entries that were trimmed before it caught up", "party_id", fl.party, "after", fl.lastID)
		}
		for _, en := range page.Entries {
			fl.deliverDecodedLocked(en, page.Likes, f.log)
		}
		if len(page.Entries) < MaxPage {
			break
		}
	}
	if closed, err := isClosed(ctx, f.rdb, fl.party); err == nil && closed {
		fl.sink.Ended()
	}
	return nil
}

func (f *Feed) message(channel, payload string) {
	fl := f.lookup(channel)
	if fl == nil {
		return
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if !fl.live {
		fl.pending = append(fl.pending, payload)
		return
	}
	fl.deliverLocked(payload, f.log)
}

// deliverLocked parses an announcement "<stream id> <likes> <entry>", or
// the end of the party.
func (fl *follow) deliverLocked(msg string, log *slog.Logger) {
	if msg == EndedMessage {
		fl.sink.Ended()
		return
	}
	if user, at, ok := rdb.ParseErased(msg); ok {
		fl.sink.Erased(user, at)
		return
	}
	if total, ok := rdb.ParseLikes(msg); ok {
		fl.sink.Likes(total)
		return
	}
	id, rest, ok1 := strings.Cut(msg, " ")
	likesStr, payload, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 {
		log.Error("malformed live announcement", "party_id", fl.party)
		return
	}
	likes, _ := strconv.ParseInt(likesStr, 10, 64)
	fl.deliverEntryLocked(id, likes, payload, log)
}

func (fl *follow) deliverEntryLocked(id string, likes int64, payload string, log *slog.Logger) {
	if !After(id, fl.lastID) {
		return
	}
	e, err := event.Decode([]byte(payload), id)
	fl.deliverDecodedLocked(Entry{ID: id, Event: e, Err: err}, likes, log)
}

func (fl *follow) deliverDecodedLocked(en Entry, likes int64, log *slog.Logger) {
	if !After(en.ID, fl.lastID) {
		return
	}
	fl.lastID = en.ID
	if en.Err != nil {
		log.Error("undecodable stream entry", "party_id", fl.party, "stream_id", en.ID, "err", en.Err)
		return
	}
	fl.sink.Deliver(en.Event, likes)
}
