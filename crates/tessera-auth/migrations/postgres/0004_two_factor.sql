-- Better Auth 1.7.25's twoFactor plugin: its `user."twoFactorEnabled"` column and `twoFactor`
-- table as its PostgreSQL migration creates them (IF NOT EXISTS: a Better Auth database that
-- ran the plugin is adopted in place).
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS "twoFactorEnabled" boolean;

CREATE TABLE IF NOT EXISTS "twoFactor" (
    "id" text NOT NULL PRIMARY KEY,
    "secret" text NOT NULL,
    "backupCodes" text NOT NULL,
    "userId" text NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE,
    "verified" boolean,
    "failedVerificationCount" integer,
    "lockedUntil" timestamptz
);

CREATE INDEX IF NOT EXISTS "twoFactor_secret_idx" ON "twoFactor" ("secret");
CREATE INDEX IF NOT EXISTS "twoFactor_userId_idx" ON "twoFactor" ("userId");

-- Tessera's own (not a Better Auth table): the last TOTP time step each user's code was
-- accepted for, so a code is refused a second time within its window (RFC 6238 §5.2; Better
-- Auth accepts it again). One row per user, moved only forward by a conditional upsert.
CREATE TABLE IF NOT EXISTS "two_factor_totp_step" (
    "user_id" text NOT NULL PRIMARY KEY REFERENCES "user" ("id") ON DELETE CASCADE,
    "step" bigint NOT NULL
);
