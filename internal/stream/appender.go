package stream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
)

// Status says what became of an appended event.
type Status int

// Append outcomes.
const (
	Stored       Status = iota // a new stream entry
	Duplicate                  // the client id was seen: StreamID is the first entry
	AlreadyLiked               // the user's like was counted before; nothing stored
	Closed                     // the party no longer takes events; nothing stored
	Full                       // the party's unflushed backlog is full; nothing stored
	Muted                      // the chat's user is muted in the party; nothing stored
	Banned                     // the event's user is banned from the party; nothing stored
	Forbidden                  // the moderation action is not its user's to take (Reason); nothing stored
	RateLimited                // the user's rate class is used up across gateways (RetryAfter); nothing stored
	DeletedFull                // the party's deletes hide as many chats as they may; nothing stored
)

// Result is the outcome of one append.
type Result struct {
	Status   Status
	StreamID string
	Likes    int64 // the party's like total after a like, else -1
	// MutedUntil is when the mute that refused a chat (Muted) ends.
	MutedUntil time.Time
	Reason     string        // why a moderation action was Forbidden
	RetryAfter time.Duration // when a RateLimited user has a token again
}

// ErrUnavailable wraps Redis failures: the event may or may not be stored.
// An append still queued when the appender stops gets it too (nothing was
// stored then). The error also wraps Redis's own, so errors.Is and
// errors.As find both.
var ErrUnavailable = errors.New("redis unavailable")

// ErrReplicas wraps ErrUnavailable for events Redis stored but fewer than
// AppenderConfig.MinReplicas replicas confirmed in time: a failover now
// could lose them, so they are not acknowledged.
var ErrReplicas = fmt.Errorf("%w: too few replicas confirmed", ErrUnavailable)

// errStopped answers appends the appender can no longer run.
var errStopped = fmt.Errorf("%w: appender stopped", ErrUnavailable)

// AppenderConfig tunes an Appender.
type AppenderConfig struct {
	MaxBuffered int64 // most unflushed events per party; 0 means no limit
	// Workers is the number of concurrent pipelines; default 8. Each
	// runs the appends of its share of the parties.
	Workers int
	// MaxBatch is the most events of one pipeline, and of a worker's
	// queue; default 4096. A worker's queue holds what its parties'
	// connections sent while its last pipeline was out. When it is full,
	// a connection that sent several events at once gets them queued one
	// by one as room frees, spread over pipelines: their answers go out
	// in dribbles, and so do the connection's next events. In the ingest
	// benchmark (1,000 parties, 8 events in flight each), 4 workers of
	// 512 did 29,000-33,000 events/s, 8, 16 or 32 workers of 512 did
	// 40,000-43,000; with 16 in flight each, 8 workers of 512 fell to
	// 29,000-38,000 and 8 of 4096 kept 39,000-47,000.
	MaxBatch int
	// PerCall is the most events one call of the append script carries;
	// default 64. A call runs atomically on Redis, so it bounds how long
	// one call holds the server (tens of microseconds per event).
	PerCall int
	// MinReplicas > 0 ends each pipeline with WAIT MinReplicas
	// ReplicaTimeout, on the pipeline's connection, so one WAIT covers the
	// batch; when fewer replicas confirm, the batch's stored events are
	// answered ErrUnavailable (ErrReplicas) instead of acked. Standalone or
	// Sentinel clients only: a cluster pipeline spans shards, which one
	// WAIT cannot cover.
	MinReplicas    int
	ReplicaTimeout time.Duration // default 500 ms
	// OnReplicaShortfall, if set, is called with the number of events a
	// failed WAIT turned into errors.
	OnReplicaShortfall func(events int)
	// Log receives the appender's warnings; nil discards them.
	Log *slog.Logger
	// Rates are the per-user limits the append script enforces across
	// gateways, by event type; a type without one takes no token.
	Rates map[event.Type]rdb.Rate
	// MaxDeleted is the most chats of one party that deletes may hide; 0
	// means no limit.
	MaxDeleted int64
}

type appendReq struct {
	ev      event.Event
	dedup   bool
	host    string    // the party's host, for a moderation event
	expires time.Time // a request still queued then is answered ErrUnavailable instead of run
	done    chan appendResp
}

// appendPatience is how long an append without a deadline of its own may
// wait for a worker before it is answered ErrUnavailable.
const appendPatience = 5 * time.Second

type appendResp struct {
	res Result
	err error
}

// Appender writes events to party streams, batching concurrent appends from
// all viewers of the process into pipelines so that many events share one
// round trip. It is safe for concurrent use; Run must be running.
//
// Each party's appends are run by one worker, in the order they were
// made: two appends of one party made one after the other (by one
// goroutine, or one after the other returned from Submit) are stored in
// that order, even when the first is still waiting for its answer.
type Appender struct {
	rdb appendRedis
	cfg AppenderConfig
	// bySlot says rdb is a Redis Cluster client: a script call then
	// carries the events of one party only, whose keys share a slot.
	bySlot bool
	// queues holds each worker's appends; a party's go to one of them
	// (queueOf), so that they are run in order.
	queues []chan *appendReq
	log    *slog.Logger

	running atomic.Bool   // workers take appends
	stopped chan struct{} // closed when Run has stopped its workers

	mu         sync.Mutex
	registered map[uuid.UUID]time.Time
	closed     map[uuid.UUID]time.Time // parties answered Closed, never registered again
}

// NewAppender returns an Appender over the Redis client c.
func NewAppender(c rdb.Client, cfg AppenderConfig) *Appender {
	return newAppender(rdb.NewStreams(c), cfg)
}

func newAppender(r appendRedis, cfg AppenderConfig) *Appender {
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 4096
	}
	if cfg.PerCall <= 0 {
		cfg.PerCall = 64
	}
	if cfg.ReplicaTimeout <= 0 {
		cfg.ReplicaTimeout = 500 * time.Millisecond
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	queues := make([]chan *appendReq, cfg.Workers)
	for i := range queues {
		queues[i] = make(chan *appendReq, cfg.MaxBatch)
	}
	return &Appender{rdb: r, cfg: cfg, bySlot: r.Cluster(), queues: queues,
		log: log, stopped: make(chan struct{}), registered: make(map[uuid.UUID]time.Time),
		closed: make(map[uuid.UUID]time.Time)}
}

// queueOf is the queue of party's appends.
func (a *Appender) queueOf(party uuid.UUID) chan *appendReq {
	return a.queues[binary.BigEndian.Uint64(party[8:])%uint64(len(a.queues))]
}

// Append stores e in its party's stream and returns once Redis answered.
// dedup says e.ID was derived from a client message id, so a resend must
// return the first entry instead of a second one. An error wraps
// ErrUnavailable (also when the appender stopped before running it) or the
// context's error.
//
// Every append is answered: a worker runs it (the pipeline has a timeout
// of its own), or answers ErrUnavailable when it waited past ctx's
// deadline (appendPatience without one) before a worker took it, or when
// the appender stops. So a caller that needs no earlier answer may pass a
// context without deadline and save a timer per event.
func (a *Appender) Append(ctx context.Context, e event.Event, dedup bool) (Result, error) {
	return a.append(ctx, &appendReq{ev: e, dedup: dedup})
}

// Pending is an append that Submit queued: Wait returns its answer.
type Pending struct {
	a   *Appender
	r   appendReq // one allocation for both
	err error     // why it was not queued
}

// Submit queues e as Append does, without waiting for its answer, so a
// caller can submit its next event while Redis stores this one: its
// events of one party are stored in the order they were submitted. It
// blocks only while the party's queue is full. Wait returns the answer,
// which comes within the appender's patience (see Append).
func (a *Appender) Submit(e event.Event, dedup bool) *Pending {
	p := &Pending{a: a, r: appendReq{ev: e, dedup: dedup}}
	p.err = a.enqueue(context.Background(), &p.r)
	return p
}

// Wait returns the answer of the append, as Append would have.
func (p *Pending) Wait() (Result, error) {
	if p.err != nil {
		return Result{}, p.err
	}
	return p.a.wait(context.Background(), &p.r)
}

// AppendModeration is Append for a moderation event of the party hosted
// by host: in the same step as the append, it is refused (Forbidden) when
// its user is no longer the host or one of its moderators, or when the
// action is one the host keeps for itself.
func (a *Appender) AppendModeration(ctx context.Context, e event.Event, dedup bool, host string) (Result, error) {
	return a.append(ctx, &appendReq{ev: e, dedup: dedup, host: host})
}

func (a *Appender) append(ctx context.Context, r *appendReq) (Result, error) {
	if err := a.enqueue(ctx, r); err != nil {
		return Result{}, err
	}
	return a.wait(ctx, r)
}

// enqueue queues r on its party's queue, to be run before ctx's deadline
// (appendPatience without one), once there is room or until the
// appender stops or ctx ends.
func (a *Appender) enqueue(ctx context.Context, r *appendReq) error {
	expires, ok := ctx.Deadline()
	if !ok {
		expires = time.Now().Add(appendPatience)
	}
	r.expires, r.done = expires, make(chan appendResp, 1)
	select {
	case a.queueOf(r.ev.PartyID) <- r:
		return nil
	case <-a.stopped:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wait returns the answer of r, which is queued.
func (a *Appender) wait(ctx context.Context, r *appendReq) (Result, error) {
	select {
	case resp := <-r.done:
		return resp.res, resp.err
	case <-a.stopped:
		// Run answered what was queued before closing stopped, unless r
		// came in after that: then nothing will run it.
		select {
		case resp := <-r.done:
			return resp.res, resp.err
		default:
			return Result{}, errStopped
		}
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// Run executes queued appends until ctx ends. An append already sent to
// Redis is finished and answered; every append still queued then, or made
// afterwards, is answered with an error wrapping ErrUnavailable, so no
// caller waits for an appender that is gone. Run starts taking appends at
// once, even while Redis cannot be reached (they are answered
// ErrUnavailable), and loads the append script in the background, retrying
// with backoff until Redis answers. Run is called once.
func (a *Appender) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = rdb.Retry(ctx, a.log, "loading the append script", func(ctx context.Context) error {
			return a.rdb.LoadAppend(ctx)
		})
	})
	for _, q := range a.queues {
		wg.Go(func() { a.work(ctx, q) })
	}
	a.running.Store(true)
	wg.Wait()
	a.running.Store(false)
	for _, q := range a.queues {
	drain:
		for {
			select {
			case r := <-q:
				r.done <- appendResp{err: errStopped}
			default:
				break drain
			}
		}
	}
	close(a.stopped)
	return nil
}

// Ready reports whether appends can succeed now: Run is taking them and
// the append script is loaded on Redis (on every master of a cluster). A
// missing script (Redis restarted or its cache flushed) is loaded here, so
// the check heals what it finds; an unreachable Redis fails it.
func (a *Appender) Ready(ctx context.Context) error {
	if !a.running.Load() {
		return errors.New("appender not running")
	}
	loaded, err := a.rdb.AppendLoaded(ctx)
	if err != nil {
		return fmt.Errorf("check append script: %w", err)
	}
	if loaded {
		return nil
	}
	if err := a.rdb.LoadAppend(ctx); err != nil {
		return fmt.Errorf("load append script: %w", err)
	}
	return nil
}

func (a *Appender) work(ctx context.Context, reqs <-chan *appendReq) {
	batch := make([]*appendReq, 0, a.cfg.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		default:
		}
		select {
		case r := <-reqs:
			batch = append(batch, r)
		case <-ctx.Done():
			return
		}
	fill:
		for len(batch) < a.cfg.MaxBatch {
			select {
			case r := <-reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if batch = dropExpired(batch, time.Now()); len(batch) > 0 {
			a.exec(context.WithoutCancel(ctx), batch)
		}
	}
}

// dropExpired answers the requests of batch that waited too long and
// returns the others.
func dropExpired(batch []*appendReq, now time.Time) []*appendReq {
	kept := batch[:0]
	for _, r := range batch {
		if now.After(r.expires) {
			r.done <- appendResp{err: fmt.Errorf("%w: waited too long for Redis", ErrUnavailable)}
			continue
		}
		kept = append(kept, r)
	}
	clear(batch[len(kept):])
	return kept
}

// exec runs one pipeline. It does not stop when the server's context ends:
// a started append finishes and is answered (graceful shutdown).
func (a *Appender) exec(ctx context.Context, batch []*appendReq) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resps := make([]appendResp, len(batch))
	calls := a.calls(batch, resps)
	if len(calls) == 0 {
		a.answer(batch, resps)
		return
	}
	wait, err := a.pipeline(ctx, batch, calls)
	if rdb.IsNoScript(err) {
		_ = a.rdb.LoadAppend(ctx)
		wait, err = a.pipeline(ctx, batch, calls)
	}
	for _, c := range calls {
		replies, cerr := c.Replies()
		if err != nil && !isScriptReply(err) {
			cerr = err // the pipeline failed as a whole
		}
		for j, i := range c.reqs {
			if cerr != nil {
				resps[i].err = fmt.Errorf("%w: %w", ErrUnavailable, cerr)
				continue
			}
			resps[i].res, resps[i].err = resultOf(replies[j])
		}
	}
	if err == nil || isScriptReply(err) {
		a.checkReplicas(wait, resps)
	}
	var closed []uuid.UUID
	for i, r := range batch {
		if resps[i].err == nil && resps[i].res.Status == Closed {
			closed = append(closed, r.ev.PartyID)
		}
	}
	a.noteClosed(ctx, closed)
	a.answer(batch, resps)
}

// answer sends each request of batch its response.
func (a *Appender) answer(batch []*appendReq, resps []appendResp) {
	for i, r := range batch {
		r.done <- resps[i]
	}
}

// scriptCall is one call of the append script in a pipeline: the events
// it carries and the requests of the batch they came from.
type scriptCall struct {
	reqs []int // indexes into the batch
	rdb.AppendCall
}

// calls splits batch into script calls of at most cfg.PerCall events, in
// the batch's order; on a cluster, one party's events per call. An event
// that cannot be encoded is answered in resps and left out.
func (a *Appender) calls(batch []*appendReq, resps []appendResp) []*scriptCall {
	var out []*scriptCall
	var open map[uuid.UUID]*scriptCall // on a cluster, each party's call being filled
	if a.bySlot {
		open = map[uuid.UUID]*scriptCall{}
	}
	var last *scriptCall
	for i, r := range batch {
		e, err := a.eventOf(r)
		if err != nil {
			resps[i].err = fmt.Errorf("%w: %w", ErrUnavailable, err)
			continue
		}
		c := last
		if a.bySlot {
			c = open[r.ev.PartyID]
		}
		if c == nil || len(c.reqs) == a.cfg.PerCall {
			c = &scriptCall{}
			out = append(out, c)
			last = c
			if a.bySlot {
				open[r.ev.PartyID] = c
			}
		}
		c.reqs = append(c.reqs, i)
		c.Events = append(c.Events, e)
	}
	return out
}

// noteClosed stops registering parties that answered Closed and undoes a
// registration this pod may have just added for a party already cleaned
// up: a closed party whose stream is gone can never get a new entry, so
// nothing is left for a flusher to find.
func (a *Appender) noteClosed(ctx context.Context, parties []uuid.UUID) {
	if len(parties) == 0 {
		return
	}
	now := time.Now()
	a.mu.Lock()
	var fresh []uuid.UUID
	for _, p := range parties {
		if _, seen := a.closed[p]; !seen {
			fresh = append(fresh, p)
		}
		a.closed[p] = now
		delete(a.registered, p)
	}
	if len(a.closed) > 4096 {
		for p, t := range a.closed {
			if now.Sub(t) > time.Hour {
				delete(a.closed, p)
			}
		}
	}
	a.mu.Unlock()
	for _, p := range fresh {
		_, _ = a.rdb.UnregisterIfGone(ctx, p)
	}
}

// checkReplicas turns the answers that a failed WAIT leaves unconfirmed
// into ErrReplicas: stored events, and duplicates and repeated likes, whose
// first write may be the one the replicas lack. Refusals (closed, full)
// stay as they are. wait was not asked when MinReplicas is 0. WAIT counts the
// replicas that reached this connection's last write: a duplicate in a batch
// that wrote nothing is confirmed up to that write only, not necessarily up
// to its first write by another pipeline (docs/configuration.md).
func (a *Appender) checkReplicas(wait rdb.WaitReply, resps []appendResp) {
	if !wait.Asked {
		return
	}
	n, err := wait.Replicas, wait.Err
	if err == nil && n >= int64(a.cfg.MinReplicas) {
		return
	}
	failed := fmt.Errorf("%w: %d of %d", ErrReplicas, n, a.cfg.MinReplicas)
	if err != nil {
		failed = fmt.Errorf("%w: %w", ErrReplicas, err)
	}
	count := 0
	for i := range resps {
		if resps[i].err != nil {
			continue
		}
		switch resps[i].res.Status {
		case Stored, Duplicate, AlreadyLiked:
			resps[i] = appendResp{err: failed}
			count++
		}
	}
	if count > 0 && a.cfg.OnReplicaShortfall != nil {
		a.cfg.OnReplicaShortfall(count)
	}
}

// pipeline sends the batch's script calls, after registering the
// parties that need it and before the WAIT that confirms them, in one
// round trip. Its error is the pipeline's: a transport error (no call was
// answered: registrations are forgotten) or the first call's error reply.
func (a *Appender) pipeline(ctx context.Context, batch []*appendReq, calls []*scriptCall) (rdb.WaitReply, error) {
	round := rdb.AppendRound{
		Register:       a.needRegistration(batch),
		Now:            time.Now(),
		Limits:         rdb.AppendBatchLimits{MaxBuffered: a.cfg.MaxBuffered, MaxDeleted: a.cfg.MaxDeleted},
		Calls:          make([]*rdb.AppendCall, len(calls)),
		MinReplicas:    a.cfg.MinReplicas,
		ReplicaTimeout: a.cfg.ReplicaTimeout,
	}
	for i, c := range calls {
		round.Calls[i] = &c.AppendCall
	}
	wait, err := a.rdb.RunAppends(ctx, round)
	if err != nil && !isScriptReply(err) {
		a.forgetRegistrations(batch)
	}
	return wait, err
}

// eventOf is r as the append script takes it.
func (a *Appender) eventOf(r *appendReq) (rdb.AppendEvent, error) {
	payload, err := event.Encode(r.ev)
	if err != nil {
		return rdb.AppendEvent{}, err
	}
	k := r.ev.Type.Kind()
	args := rdb.AppendArgs{
		Payload: payload, EventID: r.ev.ID.String(), Dedup: r.dedup, UserID: r.ev.UserID,
		MuteCheck: k.Muted, Now: r.ev.CreatedAt,
		BanCheck: !k.BanExempt && r.ev.UserID != "", Rate: a.cfg.Rates[r.ev.Type],
	}
	switch k.Redis {
	case event.CountsLike:
		args.Like = true
	case event.SetsPlayback:
		if r.ev.PositionMS != nil {
			args.Playback, args.PositionMS, args.CreatedAt = string(r.ev.Type), *r.ev.PositionMS, event.FormatTime(r.ev.CreatedAt)
		}
	case event.AppliesModeration:
		args.Moderation, args.Target, args.Until, args.Host = string(r.ev.Type), r.ev.Target, r.ev.Until, r.host
		if k.Hides {
			args.Target = r.ev.TargetEvent.String()
		}
	}
	return rdb.AppendEvent{Party: r.ev.PartyID, AppendArgs: args}, nil
}

// needRegistration returns the parties of batch not registered for flushing
// by this process in the last minute. Cleanup closes a party before it
// unregisters it, so a cached registration never hides a stream.
func (a *Appender) needRegistration(batch []*appendReq) []uuid.UUID {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	var out []uuid.UUID
	for _, r := range batch {
		p := r.ev.PartyID
		if t, ok := a.registered[p]; ok && now.Sub(t) < time.Minute {
			continue
		}
		if t, ok := a.closed[p]; ok && now.Sub(t) < time.Hour {
			continue
		}
		a.registered[p] = now
		out = append(out, p)
	}
	return out
}

func (a *Appender) forgetRegistrations(batch []*appendReq) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range batch {
		delete(a.registered, r.ev.PartyID)
	}
}

// statuses maps the append script's status words to Status.
var statuses = map[string]Status{
	"ok": Stored, "duplicate": Duplicate, "liked": AlreadyLiked, "closed": Closed, "full": Full,
	"muted": Muted, "banned": Banned, "forbidden": Forbidden, "rate_limited": RateLimited,
	"deleted_full": DeletedFull,
}

// resultOf is the Result of one event's reply; an event Redis failed alone
// is an error wrapping ErrUnavailable.
func resultOf(reply rdb.AppendReply) (Result, error) {
	if reply.Status == "error" {
		return Result{}, fmt.Errorf("%w: %s", ErrUnavailable, reply.Reason)
	}
	status, ok := statuses[reply.Status]
	if !ok {
		return Result{}, fmt.Errorf("%w: unknown append status %q", ErrUnavailable, reply.Status)
	}
	return Result{Status: status, StreamID: reply.StreamID, Likes: reply.Likes, MutedUntil: reply.MutedUntil,
		Reason: reply.Reason, RetryAfter: reply.RetryAfter}, nil
}

// isScriptReply reports whether a pipeline error is a per-command Redis
// reply (answered, so the connection is fine) rather than a transport error.
func isScriptReply(err error) bool {
	return rdb.IsReply(err) && !rdb.IsNoScript(err)
}
