package dlq

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
)

// Key is the dead-letter list, wp:dlq: oldest batch at the head (index 0),
// new batches appended at the tail (rdb.DLQKey).
const Key = rdb.DLQKey

// Batch is one or more events of one party that failed together, as one
// element of wp:dlq.
type Batch struct {
	PartyID string
	Stream  string        // the party's stream key the events were read from
	Events  []event.Event // as event.DeadLetter keeps them
	// Raw holds the entries a flusher could not decode (an event type newer
	// than it, a damaged entry), whole, for a replay to decode. They are
	// not in Events.
	Raw      []RawEntry
	Error    string // the last write error
	SQLState string // its SQLSTATE, "" when it had none
	Attempts int    // failed writes so far, replays included
	FailedAt time.Time
}

// Claim marks a batch a replay is writing. Other replays leave it alone
// until Until; after that its replay is presumed dead and the batch can be
// claimed again.
type Claim struct {
	Owner string
	Until time.Time
}

// RawEntry is a stream entry as stored: its id and every field.
type RawEntry struct {
	StreamID string            `json:"stream_id"`
	Fields   map[string]string `json:"fields"`
}

// Len is the number of events in the batch, raw entries included.
func (b Batch) Len() int { return len(b.Events) + len(b.Raw) }

// NewBatch returns the dead-letter batch for events, read from streamKey,
// that failed with err after attempts tries, at failedAt.
func NewBatch(streamKey string, events []event.Event, err error, attempts int, failedAt time.Time) Batch {
	b := Batch{Stream: streamKey, Events: deadLettered(events), Attempts: attempts, FailedAt: event.Millis(failedAt)}
	if len(events) > 0 {
		b.PartyID = events[0].PartyID.String()
	}
	if err != nil {
		b.Error = err.Error()
		b.SQLState = store.SQLState(err)
	}
	return b
}

// ToEvents returns the batch's events for the writer.
func (b Batch) ToEvents() []event.Event {
	return slices.Clone(b.Events)
}

type wireBatch struct {
	PartyID   string       `json:"party_id"`
	Stream    string       `json:"stream"`
	Events    []deadLetter `json:"events"`
	Raw       []RawEntry   `json:"raw,omitempty"`
	Error     string       `json:"error"`
	SQLState  string       `json:"sqlstate"`
	Attempts  int          `json:"attempts"`
	FailedAt  string       `json:"failed_at"`
	Replaying *wireClaim   `json:"replaying,omitempty"`
}

type wireClaim struct {
	Owner string `json:"owner"`
	Until string `json:"until"`
}

// MarshalJSON encodes b in the SPEC §6 format, times in RFC 3339 with
// milliseconds.
func (b Batch) MarshalJSON() ([]byte, error) { return json.Marshal(toWire(b, nil)) }

// UnmarshalJSON decodes a wp:dlq element, ignoring fields it does not know.
func (b *Batch) UnmarshalJSON(data []byte) error {
	var w wireBatch
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	out, _, err := fromWire(w)
	if err != nil {
		return err
	}
	*b = out
	return nil
}

func toWire(b Batch, c *Claim) wireBatch {
	w := wireBatch{PartyID: b.PartyID, Stream: b.Stream, Events: deadLetters(b.Events), Raw: b.Raw, Error: b.Error,
		SQLState: b.SQLState, Attempts: b.Attempts, FailedAt: event.FormatTime(b.FailedAt)}
	if w.Events == nil {
		w.Events = []deadLetter{}
	}
	if c != nil {
		w.Replaying = &wireClaim{Owner: c.Owner, Until: event.FormatTime(c.Until)}
	}
	return w
}

func fromWire(w wireBatch) (Batch, *Claim, error) {
	b := Batch{PartyID: w.PartyID, Stream: w.Stream, Events: events(w.Events), Raw: w.Raw, Error: w.Error,
		SQLState: w.SQLState, Attempts: w.Attempts}
	var err error
	if w.FailedAt != "" {
		if b.FailedAt, err = time.Parse(time.RFC3339Nano, w.FailedAt); err != nil {
			return Batch{}, nil, fmt.Errorf("failed_at: %w", err)
		}
	}
	if w.Replaying == nil {
		return b, nil, nil
	}
	c := &Claim{Owner: w.Replaying.Owner}
	if c.Until, err = time.Parse(time.RFC3339Nano, w.Replaying.Until); err != nil {
		return Batch{}, nil, fmt.Errorf("replaying.until: %w", err)
	}
	return b, c, nil
}

// encode returns the list element for b, claimed by c unless c is nil.
func encode(b Batch, c *Claim) (string, error) {
	data, err := json.Marshal(toWire(b, c))
	if err != nil {
		return "", fmt.Errorf("encode dlq batch of party %s: %w", b.PartyID, err)
	}
	return string(data), nil
}

// decode parses a list element and its claim, nil when unclaimed.
func decode(raw string) (Batch, *Claim, error) {
	var w wireBatch
	if err := json.Unmarshal([]byte(raw), &w); err != nil {
		return Batch{}, nil, fmt.Errorf("decode dlq batch: %w", err)
	}
	b, c, err := fromWire(w)
	if err != nil {
		return Batch{}, nil, fmt.Errorf("decode dlq batch: %w", err)
	}
	return b, c, nil
}
