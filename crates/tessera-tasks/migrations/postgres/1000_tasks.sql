-- Tessera's tasks API. Versions from 1000 keep clear of the auth server's migrations (1, 2, …):
-- both migrators share `_sqlx_migrations` and ignore each other's entries.
-- No foreign key to "user": the tasks API may run as its own service on its own database.
CREATE TABLE IF NOT EXISTS "task" (
    "id" text NOT NULL PRIMARY KEY,
    "user_id" text NOT NULL CHECK (char_length("user_id") > 0),
    "title" text NOT NULL CHECK (char_length("title") BETWEEN 1 AND 200),
    "description" text CHECK ("description" IS NULL OR char_length("description") <= 1000),
    "completed" boolean NOT NULL DEFAULT false,
    "created_at" timestamptz NOT NULL,
    "updated_at" timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS "task_user_id_created_at_idx" ON "task" ("user_id", "created_at" DESC);

-- Row-level security: a row is visible and writable only inside a transaction that set
-- `tessera.user_id` to its owner (`set_config(…, true)` is transaction-local, so a pooled
-- connection cannot carry one request's identity into the next). Unset, the setting is NULL or
-- '' and matches nothing. FORCE applies the policy to the table owner too.
ALTER TABLE "task" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "task" FORCE ROW LEVEL SECURITY;
CREATE POLICY "task_owner" ON "task"
    USING ("user_id" = current_setting('tessera.user_id', true))
    WITH CHECK ("user_id" = current_setting('tessera.user_id', true));

-- Superusers and BYPASSRLS roles ignore every policy, so the store switches each transaction to
-- this role: not the owner, not BYPASSRLS, no login of its own. Roles are cluster-wide, so it may
-- already exist (another database, or a concurrent migration of one).
DO $$
BEGIN
    BEGIN
        CREATE ROLE tessera_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
    END;
    -- The connecting role must be a member to `SET ROLE tessera_app` (superusers always are).
    IF NOT pg_has_role(current_user, 'tessera_app', 'MEMBER') THEN
        EXECUTE format('GRANT tessera_app TO %I', current_user);
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO tessera_app', current_schema());
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON "task" TO tessera_app;
