package dlq

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
)

// DefaultClaimTTL is how long a replay's claim on a batch lasts. A replay
// that dies while holding a claim delays that batch by at most this much.
const DefaultClaimTTL = 5 * time.Minute

// bookkeepingTimeout bounds the list update after a write. It runs even when
// ctx has ended, so that a committed batch is removed and a failed one
// released.
const bookkeepingTimeout = 10 * time.Second

// WriteFunc writes events in one transaction, idempotently
// (store.Writer.Write).
type WriteFunc func(ctx context.Context, events []event.Event) error

// ReplayOptions select the batches a replay writes.
type ReplayOptions struct {
	Limit  int    // most batches to replay; 0 means all
	Party  string // only this party's batches; "" means every party
	DryRun bool   // report what would be replayed and change nothing
	// ClaimTTL is how long other replays leave a batch this one claimed
	// alone; each write must finish within half of it. 0 means
	// DefaultClaimTTL.
	ClaimTTL time.Duration
	Log      *slog.Logger     // nil discards
	Now      func() time.Time // failed_at of a batch that fails again; nil means time.Now
	// Decode decodes the raw entries of a batch (those the flusher that
	// dead-lettered them could not decode); nil means event.Decode, this
	// binary's. A batch with an entry it cannot decode either fails again.
	Decode stream.Decoder
}

// Report counts what a replay did. Left is the length of wp:dlq at the end,
// batches of other parties and batches other replays hold included.
type Report struct {
	Replayed, Failed, Left int
	Results                []Result // one per batch tried (or, in a dry run, selected), in order
}

// Result is what happened to one batch.
type Result struct {
	Index    int // position in wp:dlq when the batch was read
	PartyID  string
	Events   int
	DryRun   bool   // selected by a dry run: nothing was written
	Err      error  // nil when the batch was replayed (or would be)
	SQLState string // of Err, when it has one
}

// Replay writes the batches of wp:dlq that opts select with write, oldest
// first, and removes each from the list only after its commit. Raw entries
// are decoded first with opts.Decode. A batch that fails again with a
// permanent (data) error, or holds a raw entry this binary cannot decode
// either, stays where it is, its attempts incremented and error, sqlstate
// and failed_at updated. A transient or
// deployment error (database down, missing table) is not the batch's fault:
// the batch is left exactly as it was and the replay stops, returning that
// error, since every other batch would fail alike.
//
// Replays may run concurrently, with each other and with flushers appending
// to the list. Before writing a batch a replay claims it in place with an
// atomic compare-and-swap that stamps its owner and an expiry into the
// element; other replays skip claimed batches, so none is written or
// removed twice. (Each write is cut off at half the claim's TTL, so a live
// replay always finishes inside its claim; were a replay to stall longer, a
// second write of the batch would still store nothing new.) Only the
// claim's owner removes the claimed element, by its exact value. A batch
// never leaves the list before its commit: one whose replay died stays in
// wp:dlq, visible to List and Show, and may be claimed again once its claim
// expires (ClaimTTL). Each replay tries a batch at most once.
//
// The Report is filled even when an error is returned.
func Replay(ctx context.Context, c rdb.Client, write WriteFunc, opts ReplayOptions) (Report, error) {
	r := &replayer{list: rdb.NewDeadLetters(c), write: write, opts: opts, owner: uuid.NewString(),
		seen: map[[sha256.Size]byte]bool{}, log: opts.Log, now: opts.Now, ttl: opts.ClaimTTL}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("component", "dlq")
	if r.now == nil {
		r.now = time.Now
	}
	if r.ttl <= 0 {
		r.ttl = DefaultClaimTTL
	}
	err := r.run(ctx)
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	left, lerr := length(lctx, r.list)
	r.report.Left = left
	return r.report, errors.Join(err, lerr)
}

type replayer struct {
	list     list
	write    WriteFunc
	opts     ReplayOptions
	owner    string // this replay's claim owner
	ttl      time.Duration
	log      *slog.Logger
	now      func() time.Time
	seen     map[[sha256.Size]byte]bool // batches this replay handled or saw another handle
	selected int                        // batches counted against opts.Limit
	report   Report
	// The server's clock, read once a page: serverAt is its reading and
	// readAt the local (monotonic) time of that reading.
	serverAt, readAt time.Time
}

// syncClock reads the clock of the server holding wp:dlq.
func (r *replayer) syncClock(ctx context.Context) error {
	now, err := serverNow(ctx, r.list)
	if err != nil {
		return err
	}
	r.serverAt, r.readAt = now, time.Now()
	return nil
}

// serverNow is the server's clock now, read at the page's start and
// advanced by the local monotonic clock: one round trip a page, not one a
// batch.
func (r *replayer) serverNow() time.Time { return r.serverAt.Add(time.Since(r.readAt)) }

// outcome is what considering one element did.
type outcome int

const (
	skipped outcome = iota // not selected, or already seen
	handled                // tried, selected, or seen in another replay's hands
	removed                // replayed and removed: later indexes moved up by one
)

func (r *replayer) full() bool { return r.opts.Limit > 0 && r.selected >= r.opts.Limit }

// run reads the list in passes until one finds nothing new. One pass is not
// enough under concurrency: another replay removing batches before this
// one's page shifts the elements under it, so the page after may step over
// some.
func (r *replayer) run(ctx context.Context) error {
	for {
		found, err := r.pass(ctx)
		if err != nil || found == 0 || r.full() || r.opts.DryRun {
			return err
		}
	}
}

// pass reads the list from the head a page at a time and handles every
// element it has not seen. It returns how many it handled.
func (r *replayer) pass(ctx context.Context) (int, error) {
	found := 0
	for start := 0; !r.full(); {
		raws, err := r.list.Range(ctx, start, start+pageSize-1)
		if err != nil {
			return found, fmt.Errorf("read %s: %w", Key, err)
		}
		if err := r.syncClock(ctx); err != nil {
			return found, err
		}
		gone := 0
		for i, raw := range raws {
			if r.full() {
				break
			}
			if err := ctx.Err(); err != nil {
				return found, err
			}
			o, err := r.consider(ctx, start+i-gone, raw)
			if o != skipped {
				found++
			}
			if o == removed {
				gone++
			}
			if err != nil {
				return found, err
			}
		}
		if len(raws) < pageSize {
			break
		}
		start += len(raws) - gone
	}
	return found, nil
}

// consider selects, claims and replays one element read at index.
func (r *replayer) consider(ctx context.Context, index int, raw string) (outcome, error) {
	b, claim, err := decode(raw)
	if err != nil {
		return r.undecodable(index, raw, err), nil
	}
	if r.opts.Party != "" && !strings.EqualFold(b.PartyID, r.opts.Party) {
		return skipped, nil
	}
	id := identity(b, raw)
	if r.seen[id] {
		return skipped, nil
	}
	r.seen[id] = true
	now := r.serverNow()
	log := r.log.With("party_id", b.PartyID, "index", index, "events", b.Len())
	if claim != nil && claim.Until.After(now) {
		log.Info("dlq batch is being replayed elsewhere; left to that replay", "owner", claim.Owner, "until", claim.Until)
		return handled, nil
	}
	res := Result{Index: index, PartyID: b.PartyID, Events: b.Len()}
	if r.opts.DryRun {
		r.selected++
		res.DryRun = true
		r.report.Results = append(r.report.Results, res)
		return handled, nil
	}
	claimed, err := encode(b, &Claim{Owner: r.owner, Until: now.Add(r.ttl)})
	if err != nil {
		return handled, err
	}
	// Time only moves forward, so a claim that had expired when read is
	// still expired now; the swap fails if anyone changed the element since.
	ok, err := swap(ctx, r.list, index, raw, claimed)
	if err != nil || !ok {
		log.Debug("dlq batch changed before it could be claimed; left alone")
		return handled, err
	}
	r.selected++
	return r.replay(ctx, log, b, raw, claimed, res)
}

// replay writes a batch this replay claimed, then removes it, or records the
// failure in place, or puts it back untouched and stops.
func (r *replayer) replay(ctx context.Context, log *slog.Logger, b Batch, raw, claimed string, res Result) (outcome, error) {
	events, err := r.events(b)
	if err == nil {
		wctx, cancel := context.WithTimeout(ctx, r.ttl/2)
		err = r.write(wctx, events)
		cancel()
	}
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	if err == nil {
		r.report.Replayed++
		r.report.Results = append(r.report.Results, res)
		ok, err := remove(bctx, r.list, res.Index, claimed)
		if err != nil {
			// Committed but still claimed: once the claim expires a replay
			// writes it again, which stores nothing new, and removes it.
			return handled, fmt.Errorf("batch of party %s was written but is still in %s: %w", b.PartyID, Key, err)
		}
		if !ok {
			log.Warn("dlq batch written after its claim expired; another replay holds it now")
			return handled, nil
		}
		log.Info("dlq batch replayed")
		return removed, nil
	}
	res.Err, res.SQLState = err, store.SQLState(err)
	r.report.Failed++
	r.report.Results = append(r.report.Results, res)
	if class := store.Classify(err); class != store.Permanent && !errors.Is(err, errUndecodable) {
		if _, serr := swap(bctx, r.list, res.Index, claimed, raw); serr != nil {
			err = errors.Join(err, serr)
		}
		log.Error("dlq replay stopped: the database, not the batch, is at fault", "class", class, "err", err)
		return handled, fmt.Errorf("replay stopped on a %s error, batch of party %s left as it was: %w", class, b.PartyID, err)
	}
	b.Attempts++
	b.Error, b.SQLState, b.FailedAt = err.Error(), res.SQLState, event.Millis(r.now())
	updated, err := encode(b, nil)
	if err != nil {
		return handled, err
	}
	if _, err := swap(bctx, r.list, res.Index, claimed, updated); err != nil {
		return handled, err
	}
	log.Warn("dlq batch failed again; kept", "attempts", b.Attempts, "sqlstate", b.SQLState, "err", b.Error)
	return handled, nil
}

// errUndecodable marks a raw entry this binary cannot decode either: the
// batch's fault, not the database's, so the batch fails again and the
// replay goes on.
var errUndecodable = errors.New("raw entry not decodable")

// events returns the batch's events for the writer, its raw entries
// decoded.
func (r *replayer) events(b Batch) ([]event.Event, error) {
	events := b.ToEvents()
	if len(b.Raw) == 0 {
		return events, nil
	}
	party, err := uuid.Parse(b.PartyID)
	if err != nil {
		return nil, fmt.Errorf("%w: batch party_id %q: %w", errUndecodable, b.PartyID, err)
	}
	for _, raw := range b.Raw {
		e, err := stream.DecodeFields(party, raw.StreamID, raw.Fields, r.opts.Decode)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errUndecodable, err)
		}
		events = append(events, e)
	}
	return events, nil
}

// undecodable reports an element that is not a batch once, unless a party
// filter is set (its party is unknown). It stays in the list untouched.
func (r *replayer) undecodable(index int, raw string, err error) outcome {
	id := sha256.Sum256([]byte(raw))
	if r.opts.Party != "" || r.seen[id] {
		return skipped
	}
	r.seen[id] = true
	r.selected++
	r.report.Results = append(r.report.Results, Result{Index: index, Err: err, DryRun: r.opts.DryRun})
	if !r.opts.DryRun {
		r.report.Failed++
	}
	r.log.Error("dlq element is not a batch; left in place", "index", index, "err", err)
	return handled
}

// identity names a batch by its party, events and raw entries, which
// neither a claim nor a failed attempt changes.
func identity(b Batch, raw string) [sha256.Size]byte {
	if b.Len() == 0 {
		return sha256.Sum256([]byte(raw))
	}
	h := sha256.New()
	h.Write([]byte(b.PartyID))
	for _, e := range b.Events {
		h.Write(e.ID[:])
	}
	for _, r := range b.Raw {
		h.Write([]byte("\x00" + r.StreamID))
	}
	var id [sha256.Size]byte
	h.Sum(id[:0])
	return id
}
