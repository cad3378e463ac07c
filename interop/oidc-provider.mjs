// A real OpenID Provider for the tests: panva's certified `oidc-provider` (npm), on 127.0.0.1.
//
//   node interop/oidc-provider.mjs PORT
//
// One confidential client (`tessera-test` / `tessera-test-secret`, client_secret_post, PKCE
// required) whose redirect URIs are `http://127.0.0.1/api/auth/callback/{oidc,test-oidc}` on
// any port (a native client, RFC 8252 §7.3: the tests' servers listen on ephemeral ports).
//
// Sign-in is non-interactive so tests drive the authorization-code flow with plain HTTP: the
// interaction page signs in the account named by the request's `login_hint` (default `alice`)
// and grants the requested scopes at once. Accounts exist for every name: subject = the name,
// email = `<name>@oidc.test`, verified unless the name starts with `unverified-`. The hint
// `deny` answers `access_denied` instead (the user refused consent).
//
// ID tokens live 60 s (`ttl.IdToken`), so a test that moves its clock past that sees one
// expire. Keys: one RS256 key generated at start-up.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import Provider from "oidc-provider";

const port = Number(process.argv[2] ?? process.env.OIDC_PORT ?? 0);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node interop/oidc-provider.mjs PORT");
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: "jwk" }), kid: "test-rs256", alg: "RS256", use: "sig" };

const account = (sub) => ({
  accountId: sub,
  claims: async () => ({
    sub,
    email: `${sub}@oidc.test`,
    email_verified: !sub.startsWith("unverified-"),
    name: `Test ${sub}`,
    picture: `https://images.oidc.test/${encodeURIComponent(sub)}.png`,
  }),
});

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "tessera-test",
      client_secret: "tessera-test-secret",
      application_type: "native",
      redirect_uris: [
        "http://127.0.0.1/api/auth/callback/oidc",
        "http://127.0.0.1/api/auth/callback/test-oidc",
        // The auth crate's tests name their server http://localhost:3000.
        "http://localhost:3000/api/auth/callback/test-oidc",
      ],
      token_endpoint_auth_method: "client_secret_post",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "picture"],
  },
  // Claims of the granted scopes go into the ID token, as Google and most issuers do.
  conformIdTokenClaims: false,
  findAccount: async (_ctx, sub) => account(sub),
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  ttl: { IdToken: 60, AccessToken: 3600, AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 600 },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  // Refresh tokens only when asked (offline_access), as the spec has it.
  issueRefreshToken: async (_ctx, client, code) =>
    client.grantTypeAllowed("refresh_token") && code.scopes.has("offline_access"),
});
provider.proxy = false;

// The interaction: sign the hinted account in and grant what was asked, or refuse for `deny`.
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([^/]+)$/.exec(ctx.path);
  if (!match || ctx.method !== "GET") return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const hint = details.params.login_hint || "alice";
  let result;
  if (hint === "deny") {
    result = { error: "access_denied", error_description: "The user denied the request" };
  } else if (details.prompt.name === "login") {
    result = { login: { accountId: hint } };
  } else {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const missing = details.prompt.details.missingOIDCScope;
    if (missing) grant.addOIDCScope(missing.join(" "));
    const claims = details.prompt.details.missingOIDCClaims;
    if (claims) grant.addOIDCClaims(claims);
    result = { consent: { grantId: await grant.save() } };
  }
  await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
});

provider.listen(port, "127.0.0.1", () => {
  console.log(`oidc-provider: ${issuer}`);
});
