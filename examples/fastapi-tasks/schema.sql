-- The example's one table, with row-level security underneath the user filter every query
-- carries (the same design as Tessera's own tasks API, crates/tessera-tasks/migrations/postgres).
CREATE TABLE IF NOT EXISTS task (
    id text PRIMARY KEY,
    user_id text NOT NULL CHECK (char_length(user_id) > 0),
    title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    description text CHECK (description IS NULL OR char_length(description) <= 1000),
    completed boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS task_user_id_created_at_idx ON task (user_id, created_at DESC);

-- A row is visible and writable only inside a transaction that set `tasks.user_id` to its
-- owner (`set_config(…, true)` is transaction-local, so a pooled connection cannot carry one
-- request's identity into the next). Unset, the setting is NULL or '' and matches nothing.
-- FORCE applies the policy to the table's owner too.
ALTER TABLE task ENABLE ROW LEVEL SECURITY;
ALTER TABLE task FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS task_owner ON task;
CREATE POLICY task_owner ON task
    USING (user_id = current_setting('tasks.user_id', true))
    WITH CHECK (user_id = current_setting('tasks.user_id', true));

-- Superusers and BYPASSRLS roles ignore every policy, so the app's connections switch to this
-- role: not the owner, not BYPASSRLS, no login of its own. Roles are cluster-wide, so it may
-- already exist (another database, or a concurrent set-up).
DO $$
BEGIN
    BEGIN
        CREATE ROLE fastapi_tasks_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
    END;
    IF NOT pg_has_role(current_user, 'fastapi_tasks_app', 'MEMBER') THEN
        EXECUTE format('GRANT fastapi_tasks_app TO %I', current_user);
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO fastapi_tasks_app', current_schema());
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON task TO fastapi_tasks_app;
