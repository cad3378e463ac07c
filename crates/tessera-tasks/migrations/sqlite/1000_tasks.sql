-- Tessera's tasks API. Versions from 1000 keep clear of the auth server's migrations (1, 2, …):
-- both migrators share `_sqlx_migrations` and ignore each other's entries.
-- No foreign key to "user": the tasks API may run as its own service on its own database.
CREATE TABLE IF NOT EXISTS "task" (
    "id" text NOT NULL PRIMARY KEY,
    "user_id" text NOT NULL CHECK (length("user_id") > 0),
    "title" text NOT NULL CHECK (length("title") BETWEEN 1 AND 200),
    "description" text CHECK ("description" IS NULL OR length("description") <= 1000),
    "completed" boolean NOT NULL DEFAULT 0,
    -- ISO-8601 UTC with milliseconds: fixed width, so text order is time order.
    "created_at" text NOT NULL,
    "updated_at" text NOT NULL
);

CREATE INDEX IF NOT EXISTS "task_user_id_created_at_idx" ON "task" ("user_id", "created_at");
