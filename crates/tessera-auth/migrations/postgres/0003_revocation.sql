-- Tessera's revocation records (not a Better Auth table): one row per ended session, written in
-- the transaction that deletes the session, read by the revocation feed
-- (`GET /api/auth/revocations`) and pruned once "until" has passed (every token of the session
-- has expired by then). The audit log records the same endings for people; nothing reads
-- revocations out of it.
-- "id" is time-ordered (Unix milliseconds in hex first): the feed's cursor.
-- No foreign keys: the session is gone, and the user may be too.
CREATE TABLE IF NOT EXISTS "revocation" (
    "id" text NOT NULL PRIMARY KEY,
    "session_id" text NOT NULL,
    "user_id" text NOT NULL,
    "revoked_at" timestamptz NOT NULL,
    "until" timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS "revocation_until_idx" ON "revocation" ("until");
