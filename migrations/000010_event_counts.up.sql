-- Kinds stored as counts (event.Counts) rather than a row per event: one
-- row per party, type, value (the event's text, a reaction's emoji) and
-- second, so that a burst of 100,000 events costs a row per second and
-- value. A redelivered batch is not counted twice: last_ms and last_seq
-- are the stream position of the last event counted in the row, and a
-- party's stream is flushed in order, so an event at or before it was
-- counted already (internal/store/counts.go). Events replayed from the
-- dead-letter list come out of that order; their ids are kept in
-- watch_party_counted_replays so that a replay is counted once.
CREATE TABLE IF NOT EXISTS watch_party_event_counts (
    party_id  uuid        NOT NULL REFERENCES watch_parties (id),
    type      text        NOT NULL,
    value     text        NOT NULL,
    second    timestamptz NOT NULL,
    count     bigint      NOT NULL CHECK (count > 0),
    last_ms   bigint      NOT NULL,
    last_seq  bigint      NOT NULL,
    PRIMARY KEY (party_id, type, second, value)
);

CREATE TABLE IF NOT EXISTS watch_party_counted_replays (
    event_id  uuid PRIMARY KEY
);
