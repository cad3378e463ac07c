-- Tessera's mail outbox (not a Better Auth table). Versions from 2000 keep clear of the auth
-- server's (1, 2, …) and the tasks API's (1000): the migrators share `_sqlx_migrations`.
-- A row is written in the transaction of the token its mail carries, so a rolled-back token
-- never sends a mail and a committed one is never lost. Dates are the fixed-width ISO-8601 text
-- Better Auth's columns use, so comparisons order as the times do.
-- "payload" holds the link (a secret) until the row is sent or given up, then it is emptied;
-- "last_error" holds a machine code, never a server reply that could echo the message.
CREATE TABLE IF NOT EXISTS "mail_outbox" (
    "id" text NOT NULL PRIMARY KEY,
    "created_at" date NOT NULL,
    "kind" text NOT NULL,
    "recipient" text NOT NULL,
    "payload" text NOT NULL,
    "attempts" integer NOT NULL DEFAULT 0,
    "next_attempt_at" date NOT NULL,
    "claimed_until" date,
    "claimed_by" text,
    "sent_at" date,
    "failed_at" date,
    "last_error" text
);

CREATE INDEX IF NOT EXISTS "mail_outbox_due_idx" ON "mail_outbox" ("next_attempt_at")
    WHERE "sent_at" IS NULL AND "failed_at" IS NULL;
CREATE INDEX IF NOT EXISTS "mail_outbox_recipient_created_at_idx" ON "mail_outbox" ("recipient", "created_at");
