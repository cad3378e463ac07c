-- Tessera's audit log (not a Better Auth table). One row per security-relevant event, written in
-- the transaction of the action it records. Dates use the same ISO-8601 text as Better Auth's
-- columns, so comparisons on "at" order correctly. Never holds a password, token, cookie or secret.
-- No foreign keys: the log outlives the users and sessions it names.
CREATE TABLE IF NOT EXISTS "audit_event" (
    "id" text NOT NULL PRIMARY KEY,
    "at" date NOT NULL,
    "event" text NOT NULL,
    "outcome" text NOT NULL CHECK ("outcome" IN ('success', 'failure')),
    "reason" text,
    "user_id" text,
    "session_id" text,
    "ip" text NOT NULL,
    "user_agent" text NOT NULL,
    "detail" text
);

CREATE INDEX IF NOT EXISTS "audit_event_user_id_at_idx" ON "audit_event" ("user_id", "at");
CREATE INDEX IF NOT EXISTS "audit_event_at_idx" ON "audit_event" ("at");
