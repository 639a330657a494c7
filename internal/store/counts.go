package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/watchparty/watchparty/internal/event"
)

// writeCounts adds the events of kinds stored as counts (event.Counts) to
// their party's per-second counts (migration 10), by type and text.
//
// It counts each event once. A row keeps the stream position of the last
// event it counted; a party's stream is flushed in order, so an event of a
// redelivered batch at or before that position was counted already and is
// skipped. A replayed batch (from the dead-letter list) is out of that
// order: its events are counted when their event_id is new to
// watch_party_counted_replays, which they are added to.
func writeCounts(ctx context.Context, tx pgx.Tx, es []event.Event, replayed bool) error {
	if len(es) == 0 {
		return nil
	}
	slices.SortFunc(es, func(a, b event.Event) int {
		switch pa, pb := chatPosition(a), chatPosition(b); {
		case pa.Less(pb):
			return -1
		case pb.Less(pa):
			return 1
		}
		return 0
	})
	n := len(es)
	ids, parties, types, values := make([][16]byte, n), make([][16]byte, n), make([]string, n), make([]string, n)
	seconds, ms, seq := make([]time.Time, n), make([]int64, n), make([]int64, n)
	for i, e := range es {
		pos := chatPosition(e)
		ids[i], parties[i], types[i], values[i] = raw(e.ID), raw(e.PartyID), string(e.Type), e.Text
		seconds[i], ms[i], seq[i] = e.CreatedAt.UTC().Truncate(time.Second), pos.MS, pos.Seq
	}
	// Rows are upserted in key order, so that concurrent writers lock them
	// in the same order.
	const upsert = `%s
		INSERT INTO watch_party_event_counts AS c (party_id, type, value, second, count, last_ms, last_seq)
		SELECT b.party_id, b.type, b.value, b.second, count(*),
			(array_agg(b.ms ORDER BY b.ms DESC, b.seq DESC))[1], (array_agg(b.seq ORDER BY b.ms DESC, b.seq DESC))[1]
		FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::bigint[], $7::bigint[])
			AS b(event_id, party_id, type, value, second, ms, seq)
		%s
		GROUP BY b.party_id, b.type, b.second, b.value
		ORDER BY b.party_id, b.type, b.second, b.value
		ON CONFLICT (party_id, type, second, value) DO UPDATE SET count = c.count + EXCLUDED.count,
			last_ms = CASE WHEN (EXCLUDED.last_ms, EXCLUDED.last_seq) > (c.last_ms, c.last_seq) THEN EXCLUDED.last_ms ELSE c.last_ms END,
			last_seq = CASE WHEN (EXCLUDED.last_ms, EXCLUDED.last_seq) > (c.last_ms, c.last_seq) THEN EXCLUDED.last_seq ELSE c.last_seq END`
	with, filter := "", `
		LEFT JOIN watch_party_event_counts o
			ON (o.party_id, o.type, o.second, o.value) = (b.party_id, b.type, b.second, b.value)
		WHERE o.party_id IS NULL OR (b.ms, b.seq) > (o.last_ms, o.last_seq)`
	if replayed {
		with = `WITH fresh AS (INSERT INTO watch_party_counted_replays (event_id) SELECT unnest($1::uuid[])
			ON CONFLICT DO NOTHING RETURNING event_id)`
		filter = `JOIN fresh ON fresh.event_id = b.event_id`
	}
	_, err := tx.Exec(ctx, fmt.Sprintf(upsert, with, filter), ids, parties, types, values, seconds, ms, seq)
	return wrapTable(string(event.Counts), err)
}
