-- An erasure (`flusher erase-user`) unattributes the chats a person deleted
-- as a moderator: deleted_by becomes '' (pkg/store/erasure.go). Few chats
-- are deleted, so a partial index finds a person's deletes without reading
-- the whole table, and the chats flushed unmarked add nothing to it. On a
-- big table, build it beforehand with CREATE INDEX CONCURRENTLY under this
-- name (docs/schema.md): this then skips it.
CREATE INDEX IF NOT EXISTS watch_party_chats_deleted_by_idx
    ON watch_party_chats (deleted_by) WHERE deleted_by IS NOT NULL;
