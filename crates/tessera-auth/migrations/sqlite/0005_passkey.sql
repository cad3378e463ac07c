-- The `@better-auth/passkey` plugin's `passkey` table, as Better Auth's SQLite migration creates
-- it. IF NOT EXISTS lets Tessera adopt a Better Auth database with passkeys in place. "publicKey"
-- is standard base64 of the credential's COSE key, "credentialID" its base64url id.
-- (Version 0005: 0004 is left to the two-factor tables, written at the same time.)
CREATE TABLE IF NOT EXISTS "passkey" (
    "id" text NOT NULL PRIMARY KEY,
    "name" text,
    "publicKey" text NOT NULL,
    "userId" text NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE,
    "credentialID" text NOT NULL,
    "counter" integer NOT NULL,
    "deviceType" text NOT NULL,
    "backedUp" integer NOT NULL,
    "transports" text,
    "createdAt" date,
    "aaguid" text
);

CREATE INDEX IF NOT EXISTS "passkey_userId_idx" ON "passkey" ("userId");
CREATE INDEX IF NOT EXISTS "passkey_credentialID_idx" ON "passkey" ("credentialID");
