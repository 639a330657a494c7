package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
)

// Entry is one stream entry read through the consumer group. Err is set
// when the entry could not be decoded; Event then holds only the party and
// stream id, and Fields the entry's fields as stored, so that it can be
// kept whole and decoded later (by a newer flusher).
type Entry struct {
	ID     string
	Event  event.Event
	Err    error
	Fields map[string]string // only when Err is set
}

// Consumer reads party streams as one named consumer of group "flushers".
// It is safe for concurrent use on different parties.
type Consumer struct {
	rdb    groupRedis
	name   string
	decode Decoder
}

// Decoder parses the stream entry form of an event (event.Decode).
type Decoder func(payload []byte, streamID string) (event.Event, error)

// NewConsumer returns the consumer called name, decoding with event.Decode.
func NewConsumer(c rdb.Client, name string) *Consumer {
	return &Consumer{rdb: rdb.NewStreams(c), name: name, decode: event.Decode}
}

// WithDecoder returns a copy of c that decodes entries with decode: a test
// plays a flusher of another version with it.
func (c *Consumer) WithDecoder(decode Decoder) *Consumer {
	cc := *c
	cc.decode = decode
	return &cc
}

// Parties returns every party registered as possibly holding unflushed events.
func (c *Consumer) Parties(ctx context.Context) ([]uuid.UUID, error) {
	members, err := c.rdb.Registered(ctx)
	if err != nil {
		return nil, fmt.Errorf("list registered streams: %w", err)
	}
	out := make([]uuid.UUID, 0, len(members))
	for _, m := range members {
		if id, err := uuid.Parse(m); err == nil {
			out = append(out, id)
		}
	}
	return out, nil
}

// ErrNoStream says a registered party has no stream (nothing was written).
var ErrNoStream = errors.New("party has no stream")

// EnsureGroup creates group "flushers" on party's stream, reading from the
// first entry, unless it exists.
func (c *Consumer) EnsureGroup(ctx context.Context, party uuid.UUID) error {
	err := c.rdb.CreateGroup(ctx, party)
	switch {
	case err == nil, rdb.IsBusyGroup(err):
		return nil
	case rdb.IsNoStream(err):
		return ErrNoStream
	default:
		return fmt.Errorf("create group on party %s: %w", party, err)
	}
}

// ReadOwnPending returns up to count entries already delivered to this
// consumer and not acknowledged, after id after ("0" for the first).
func (c *Consumer) ReadOwnPending(ctx context.Context, party uuid.UUID, after string, count int) ([]Entry, error) {
	return c.read(ctx, party, after, count)
}

// ReadNew returns up to count entries never delivered to any consumer,
// without blocking.
func (c *Consumer) ReadNew(ctx context.Context, party uuid.UUID, count int) ([]Entry, error) {
	return c.read(ctx, party, ">", count)
}

func (c *Consumer) read(ctx context.Context, party uuid.UUID, from string, count int) ([]Entry, error) {
	msgs, err := c.rdb.ReadGroup(ctx, party, c.name, from, count)
	if err != nil {
		return nil, fmt.Errorf("read party %s: %w", party, err)
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	out := make([]Entry, len(msgs))
	for i, m := range msgs {
		out[i] = decodeEntry(party, m, c.decode)
	}
	return out, nil
}

func decodeEntry(party uuid.UUID, m rdb.StreamEntry, decode Decoder) Entry {
	payload, ok := m.Values[payloadField].(string)
	e, err := decodePayload(party, m.ID, payload, ok, decode)
	if err == nil {
		return Entry{ID: m.ID, Event: e}
	}
	fields := make(map[string]string, len(m.Values))
	for k, v := range m.Values {
		fields[k] = fmt.Sprint(v)
	}
	return Entry{ID: m.ID, Event: event.Event{PartyID: party, StreamID: m.ID}, Err: err, Fields: fields}
}

// payloadField is the entry field holding the event's stream entry form.
const payloadField = "e"

// DecodeFields returns the event of entry id of party's stream from the
// entry's fields as stored, decoded with decode (nil means event.Decode):
// what a flusher reading the entry would have got. A replay of an entry
// dead-lettered raw uses it.
func DecodeFields(party uuid.UUID, id string, fields map[string]string, decode Decoder) (event.Event, error) {
	if decode == nil {
		decode = event.Decode
	}
	payload, ok := fields[payloadField]
	return decodePayload(party, id, payload, ok, decode)
}

func decodePayload(party uuid.UUID, id, payload string, ok bool, decode Decoder) (event.Event, error) {
	if !ok {
		return event.Event{}, fmt.Errorf("stream entry %s has no event field", id)
	}
	e, err := decode([]byte(payload), id)
	if err != nil {
		return event.Event{}, err
	}
	if e.PartyID != party {
		return event.Event{}, fmt.Errorf("stream entry %s belongs to party %s", id, e.PartyID)
	}
	return e, nil
}

// Ack acknowledges ids on party's stream. Call it only after the events are
// committed to PostgreSQL.
func (c *Consumer) Ack(ctx context.Context, party uuid.UUID, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := c.rdb.Ack(ctx, party, ids); err != nil {
		return fmt.Errorf("ack %d entries of party %s: %w", len(ids), party, err)
	}
	return nil
}

// Trim deletes acknowledged entries of party's stream that are older than
// keep, never one that is pending or not yet delivered to the group: Redis
// trims regardless of acknowledgement, so the bound is the lowest of the
// oldest pending id, the group's last-delivered id and now-keep.
func (c *Consumer) Trim(ctx context.Context, party uuid.UUID, keep time.Duration, now time.Time) error {
	g, found, err := c.rdb.Group(ctx, party)
	if err != nil {
		return fmt.Errorf("trim party %s: %w", party, err)
	}
	if !found {
		return nil
	}
	last, err := event.ParsePosition(g.LastDeliveredID)
	if err != nil {
		return fmt.Errorf("trim party %s: %w", party, err)
	}
	bound := event.Position{MS: last.MS, Seq: last.Seq + 1}
	if g.Pending > 0 {
		lower, err := c.rdb.OldestPending(ctx, party)
		if err != nil {
			return fmt.Errorf("trim party %s: %w", party, err)
		}
		if low, err := event.ParsePosition(lower); err == nil && low.Less(bound) {
			bound = low
		}
	}
	if cutoff := (event.Position{MS: now.Add(-keep).UnixMilli()}); cutoff.Less(bound) {
		bound = cutoff
	}
	if err := c.rdb.TrimBefore(ctx, party, bound.String()); err != nil {
		return fmt.Errorf("trim party %s: %w", party, err)
	}
	return nil
}

// Backlog returns how many entries of party's stream are not yet
// acknowledged by the group (undelivered plus pending).
func (c *Consumer) Backlog(ctx context.Context, party uuid.UUID) (int64, error) {
	g, found, err := c.rdb.Group(ctx, party)
	if err != nil {
		if rdb.IsNoSuchKey(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("backlog of party %s: %w", party, err)
	}
	if found && g.Lag >= 0 {
		return g.Lag + g.Pending, nil
	}
	return c.rdb.Len(ctx, party)
}
