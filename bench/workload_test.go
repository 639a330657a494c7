package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/stream"
)

// workload is a backlog of party events: per party, in stream order.
type workload struct {
	parties []uuid.UUID
	events  [][]event.Event
	chats   int
	likes   int // each from a distinct user, so each is a row
	logs    int
}

func (w *workload) total() int { return w.chats + w.likes + w.logs }

var words = strings.Fields(`lol this scene is amazing wait what did he just say again best part ever
	omg no way replay that music though who is the actor here I love it plot twist called it`)

// newWorkload builds perParty events for each party: 90% chats of 20 to 100
// characters from 2,000 users (with client ids, as the gateway derives their
// event ids), 4% likes from distinct users, 6% join, leave, seek, play and
// pause log events; 200 events a second per party.
func newWorkload(parties []uuid.UUID, perParty int) *workload {
	rng := rand.New(rand.NewPCG(1, 2))
	base := event.Millis(time.Now().Add(-time.Hour))
	w := &workload{parties: parties, events: make([][]event.Event, len(parties))}
	for pi, p := range parties {
		evs := make([]event.Event, perParty)
		for i := range evs {
			e := event.Event{PartyID: p, CreatedAt: base.Add(time.Duration(i) * 5 * time.Millisecond)}
			switch r := rng.IntN(100); {
			case r < 90:
				e.Type, e.UserID, e.Text = event.Chat, "u"+strconv.Itoa(rng.IntN(2000)), chatText(rng, 20+rng.IntN(81))
				e.ID = event.NewID(p, e.UserID, "c"+strconv.Itoa(i))
				w.chats++
			case r < 94:
				e.Type, e.UserID = event.Like, "l"+strconv.Itoa(i)
				e.ID = event.NewID(p, e.UserID, "k"+strconv.Itoa(i))
				w.likes++
			default:
				e.Type, e.UserID = logType(rng), "u"+strconv.Itoa(rng.IntN(2000))
				e.ID = event.NewID(p, e.UserID, "")
				if e.Type.IsPlayback() {
					pos := int64(rng.IntN(7_200_000))
					e.PositionMS = &pos
					e.UserID = fmt.Sprintf("host%d", pi)
				}
				w.logs++
			}
			evs[i] = e
		}
		w.events[pi] = evs
	}
	return w
}

func logType(rng *rand.Rand) event.Type {
	return []event.Type{event.Join, event.Join, event.Join, event.Join, event.Leave, event.Leave,
		event.Leave, event.Seek, event.Play, event.Pause}[rng.IntN(10)]
}

func chatText(rng *rand.Rand, n int) string {
	var sb strings.Builder
	for sb.Len() < n {
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(words[rng.IntN(len(words))])
	}
	return sb.String()[:n]
}

// fillRedis appends the workload the way the gateway's append script
// stores entries (XADD <stream> * e <event.Encode>) and registers every
// party for flushing (SADD wp:streams), with pipelines of 1,000 XADDs.
func fillRedis(ctx context.Context, rc redis.UniversalClient, w *workload) error {
	var g errgroup.Group
	for pi, p := range w.parties {
		g.Go(func() error {
			key := stream.KeysFor(p).Stream
			evs := w.events[pi]
			for start := 0; start < len(evs); start += 1000 {
				pipe := rc.Pipeline()
				for _, e := range evs[start:min(start+1000, len(evs))] {
					payload, err := event.Encode(e)
					if err != nil {
						return err
					}
					pipe.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{"e", payload}})
				}
				if _, err := pipe.Exec(ctx); err != nil {
					return fmt.Errorf("fill party %s: %w", p, err)
				}
			}
			return rc.SAdd(ctx, stream.RegistryKey, p.String()).Err()
		})
	}
	return g.Wait()
}

// tableRows is one batch's rows for each event table, in the column order
// and sort order store.Writer uses.
type tableRows struct {
	chats, likes, logs [][]any
}

var (
	chatColumns = []string{"event_id", "party_id", "user_id", "body", "created_at", "stream_ms", "stream_seq"}
	likeColumns = []string{"party_id", "user_id", "event_id", "created_at"}
	logColumns  = []string{"event_id", "party_id", "user_id", "action", "position_ms", "created_at"}
)

// batches cuts the workload the way the flusher reads it: per party, runs of
// size events in stream order.
func (w *workload) batches(size int) [][]event.Event {
	var out [][]event.Event
	for _, evs := range w.events {
		for start := 0; start < len(evs); start += size {
			out = append(out, evs[start:min(start+size, len(evs))])
		}
	}
	return out
}

// rowsOf returns batch's rows. Event and party ids go in as [16]byte,
// which pgx encodes directly; with googleUUID they go in as uuid.UUID, as
// store.Writer passes them, which pgx encodes through driver.Valuer: to a
// string, a failed binary encode, a parse back, then the binary encode.
func rowsOf(batch []event.Event, googleUUID bool) tableRows {
	var chats, likes, logs []event.Event
	for _, e := range batch {
		switch e.Type {
		case event.Chat:
			chats = append(chats, e)
		case event.Like:
			likes = append(likes, e)
		default:
			logs = append(logs, e)
		}
	}
	byID := func(a, b event.Event) int { return bytes.Compare(a.ID[:], b.ID[:]) }
	slices.SortFunc(chats, byID)
	slices.SortFunc(logs, byID)
	slices.SortFunc(likes, func(a, b event.Event) int { return strings.Compare(a.UserID, b.UserID) })
	id := func(u uuid.UUID) any {
		if googleUUID {
			return u
		}
		return [16]byte(u)
	}
	var r tableRows
	for _, e := range chats {
		pos, err := event.ParsePosition(e.StreamID)
		if err != nil { // as store.Writer places a chat without a stream id
			pos = event.Position{MS: e.CreatedAt.UnixMilli()}
		}
		r.chats = append(r.chats, []any{id(e.ID), id(e.PartyID), e.UserID, e.Text, e.CreatedAt, pos.MS, pos.Seq})
	}
	for _, e := range likes {
		r.likes = append(r.likes, []any{id(e.PartyID), e.UserID, id(e.ID), e.CreatedAt})
	}
	for _, e := range logs {
		r.logs = append(r.logs, []any{id(e.ID), id(e.PartyID), e.UserID, string(e.Type), e.PositionMS, e.CreatedAt})
	}
	return r
}
