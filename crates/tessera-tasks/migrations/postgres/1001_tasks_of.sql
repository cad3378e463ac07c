-- A user's task list in one statement, hence one round trip (BENCHMARKS.md, "Round trips per
-- request"): the transaction `begin_as` opens for the other operations costs three more
-- (BEGIN, the settings, COMMIT), which on a read that is all the database work there is.
--
-- The function does what `begin_as` does, then reads. Row-level security is applied when a
-- statement is planned, for the role in effect then; PL/pgSQL plans `RETURN QUERY` when it
-- runs it, after the two `set_config` calls, so the `task_owner` policy confines the read to
-- `p_user`'s rows exactly as inside `begin_as`'s transaction (tests/api/rls.rs proves it).
-- Both settings are transaction-local: the store calls this outside any transaction, so the
-- statement is its own and both end with it; called inside a transaction, they last until it
-- ends, as `begin_as`'s do. SECURITY INVOKER (the default): it runs with the caller's rights,
-- so it can do nothing the caller could not do by sending the same statements itself.
CREATE OR REPLACE FUNCTION "tessera_tasks_of"(p_user text, p_completed boolean)
    RETURNS SETOF "task"
    LANGUAGE plpgsql
    VOLATILE
AS $$
BEGIN
    PERFORM set_config('role', 'tessera_app', true), set_config('tessera.user_id', p_user, true);
    RETURN QUERY
        SELECT * FROM "task"
        WHERE "user_id" = p_user AND (p_completed IS NULL OR "completed" = p_completed);
END
$$;
