-- Parties and the four event tables the flusher writes. Event rows carry the
-- time the gateway accepted the event (created_at), never the flush time.
CREATE TABLE IF NOT EXISTS watch_parties (
    id            uuid PRIMARY KEY,
    title         text        NOT NULL,
    video_url     text        NOT NULL,
    host_user_id  text        NOT NULL,
    start_time    timestamptz NOT NULL,
    end_time      timestamptz NOT NULL,
    status        text        NOT NULL DEFAULT 'SCHEDULED'
                  CHECK (status IN ('SCHEDULED', 'ONGOING', 'FINISHED', 'CANCELLED')),
    control       text        NOT NULL DEFAULT 'host' CHECK (control IN ('host', 'everyone')),
    started_at    timestamptz,
    finished_at   timestamptz,
    peak_viewers  integer     NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (end_time > start_time)
);
CREATE INDEX IF NOT EXISTS watch_parties_status_start_idx ON watch_parties (status, start_time);
CREATE INDEX IF NOT EXISTS watch_parties_created_idx ON watch_parties (created_at DESC);

CREATE TABLE IF NOT EXISTS watch_party_chats (
    event_id    uuid PRIMARY KEY,
    party_id    uuid        NOT NULL REFERENCES watch_parties (id),
    user_id     text        NOT NULL,
    body        text        NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS watch_party_chats_party_created_idx ON watch_party_chats (party_id, created_at);

CREATE TABLE IF NOT EXISTS watch_party_likes (
    party_id    uuid        NOT NULL REFERENCES watch_parties (id),
    user_id     text        NOT NULL,
    event_id    uuid        NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (party_id, user_id)
);
CREATE INDEX IF NOT EXISTS watch_party_likes_party_created_idx ON watch_party_likes (party_id, created_at);

CREATE TABLE IF NOT EXISTS watch_party_logs (
    event_id     uuid PRIMARY KEY,
    party_id     uuid        NOT NULL REFERENCES watch_parties (id),
    user_id      text        NOT NULL,
    action       text        NOT NULL CHECK (action IN ('join', 'leave', 'play', 'pause', 'seek')),
    position_ms  bigint,
    created_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS watch_party_logs_party_created_idx ON watch_party_logs (party_id, created_at);

CREATE TABLE IF NOT EXISTS watch_party_viewer_counts (
    party_id    uuid        NOT NULL REFERENCES watch_parties (id),
    sampled_at  timestamptz NOT NULL,
    viewers     integer     NOT NULL,
    PRIMARY KEY (party_id, sampled_at)
);
