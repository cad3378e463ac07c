// Throwaway databases for the adoption and side-by-side tests, and direct reads of what Better
// Auth wrote (to check its on-disk formats, not just what its API says).
//
//   COMPAT_DATABASE_URL (else TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres):
//   the PostgreSQL server in which a fresh database is created per test and dropped afterwards.

import { rmSync } from "node:fs";
import { join } from "node:path";
import { WORK } from "./servers.mjs";

const ADMIN_URL = process.env.COMPAT_DATABASE_URL || process.env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";

/**
 * A fresh database: {kind, url, query(sql, params) → rows, close()}. `url` is a DATABASE_URL
 * both servers accept.
 */
export async function freshDatabase(kind, label) {
  const name = `${label}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  if (kind === "sqlite") {
    const path = join(WORK, `${name}.db`);
    const { default: Database } = await import("better-sqlite3");
    let handle;
    const open = () => {
      handle ??= new Database(path, { readonly: false });
      handle.pragma("busy_timeout = 5000");
      return handle;
    };
    return {
      kind,
      name,
      url: `sqlite://${path}`,
      path,
      async query(sql, params = []) {
        return open().prepare(sql).all(...params);
      },
      async close() {
        handle?.close();
        handle = undefined;
        for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
      },
    };
  }
  if (kind === "postgres") {
    const { default: pg } = await import("pg");
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.end();
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    let client;
    return {
      kind,
      name,
      url: url.toString(),
      async query(sql, params = []) {
        if (!client) {
          client = new pg.Client({ connectionString: url.toString() });
          await client.connect();
        }
        return (await client.query(sql, params)).rows;
      },
      async close() {
        await client?.end();
        const cleanup = new pg.Client({ connectionString: ADMIN_URL });
        await cleanup.connect();
        await cleanup.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await cleanup.end();
      },
    };
  }
  throw new Error(`unknown database kind ${kind} (sqlite or postgres)`);
}
