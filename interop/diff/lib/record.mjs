// Recording HTTP exchanges and normalising them so two servers' answers can be compared.
//
// Normalised form of one response:
//   { status,
//     headers: { <name>: value } for the compared headers only,
//     cookies: { <cookie name>: { value: <shape>, <attribute>: value, … } },
//     body: <JSON with masked values> | { "~text": <masked text> } }
//
// Masking is per server run: every 32-character id or token is replaced by "<case#N>" (the case
// where it first appeared, and its position there; object keys visited in sorted order), so
// cross-references — the
// token in the body equals the one in the cookie, session.userId equals user.id, a JWT's kid
// equals the JWKS kid — are compared too, while the random values themselves are not. ISO dates
// become "<date>"; the server's own origin (its port differs) becomes "<origin>"; JWTs are
// decoded into {header, payload} with iat/exp replaced by their difference; cookie signatures
// and key material become shape markers.

/**
 * Response headers compared between the servers (lower-case): what clients read. The CORS
 * headers decide whether a browser hands the answer to the page at all; `retry-after` and
 * `www-authenticate` are what HTTP clients act on after a 429 or a 401.
 */
export const COMPARED_HEADERS = [
  "access-control-allow-credentials",
  "access-control-allow-headers",
  "access-control-allow-methods",
  "access-control-allow-origin",
  "access-control-expose-headers",
  "access-control-max-age",
  "cache-control",
  "content-type",
  "location",
  "pragma",
  "retry-after",
  "set-auth-jwt",
  "set-auth-token",
  "www-authenticate",
  "x-retry-after",
];

/** Headers whose value is a comma-separated list: order, case and spacing carry no meaning. */
const LIST_HEADERS = new Set(["access-control-allow-headers", "access-control-allow-methods", "access-control-expose-headers"]);

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})$/;
const ID32 = /^[A-Za-z0-9]{32}$/;
const SIGNED = /^(.+)\.([A-Za-z0-9+/]{43}=)$/;
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** Authorization-request parameters that are random per request. */
const RANDOM_PARAMS = new Set(["state", "nonce", "code_challenge"]);
const KEY_MATERIAL = new Set(["x", "y", "n", "d", "p", "q", "dp", "dq", "qi"]);
// The twoFactor plugin's random values: a sign-in challenge's id (the two_factor cookie), a
// trusted device's `<hmac>!<identifier>`, a backup code, and the secret in a TOTP URI.
const TWO_FACTOR_ID = /^2fa-[A-Za-z0-9_-]{20}$/;
const TRUST_DEVICE = /^[A-Za-z0-9_-]{43}!(trust-device-[A-Za-z0-9_-]{32})$/;
const BACKUP_CODE = /^[A-Za-z0-9]{5}-[A-Za-z0-9]{5}$/;
const OTPAUTH_SECRET = /^(otpauth:\/\/totp\/[^?]*\?secret=)[A-Z2-7]+(&.*)$/;

/** Per-server normalisation state. */
export class Masker {
  constructor(origin) {
    this.origin = origin;
    this.ids = new Map();
    this.caseId = "?";
    this.fresh = 0;
  }

  /** Starts a case: ids first seen from now on are named after it. */
  begin(caseId) {
    this.caseId = caseId;
    this.fresh = 0;
  }

  /**
   * "<case#N>": the N-th new id of the case where it first appeared. A later case that shows the
   * same value shows the same name, so one diverging case does not renumber every later one.
   */
  id(value) {
    if (!this.ids.has(value)) {
      this.fresh += 1;
      this.ids.set(value, `<${this.caseId}#${this.fresh}>`);
    }
    return this.ids.get(value);
  }

  string(value, key) {
    if (ID32.test(value) || TWO_FACTOR_ID.test(value)) return this.id(value);
    if (value.includes("code_challenge=")) {
      const url = this.authorizationUrl(value);
      if (url) return url;
    }
    const trusted = TRUST_DEVICE.exec(value);
    if (trusted) return `<hmac>!${this.id(trusted[1])}`;
    if (BACKUP_CODE.test(value)) return "<backup-code>";
    const uri = OTPAUTH_SECRET.exec(value);
    if (uri) return `${uri[1]}<base32>${uri[2]}`;
    if (ISO_DATE.test(value)) return "<date>";
    const signed = SIGNED.exec(value);
    if (signed) {
      // Better Auth's random identifiers use [A-Za-z0-9_-] (the passkey challenge cookie names
      // one), Tessera's [A-Za-z0-9]: both are 32 random characters.
      if (/^[A-Za-z0-9_-]{32}$/.test(signed[1])) return `${this.id(signed[1])}.<sig>`;
      return `${this.string(signed[1])}.<sig>`;
    }
    if (JWT.test(value)) {
      const decoded = decodeJwt(value);
      if (decoded) return { "~jwt": this.value(decoded) };
    }
    if (key && KEY_MATERIAL.has(key) && /^[A-Za-z0-9_-]{16,}$/.test(value)) return `<b64url>`;
    // A WebAuthn challenge (32 random bytes) or user handle (32 random characters), base64url.
    if ((key === "challenge" || key === "id") && /^[A-Za-z0-9_-]{43}$/.test(value)) return `<b64url32>`;
    return value.split(this.origin).join("<origin>");
  }

  /**
   * An OAuth authorization URL: its endpoint, its parameters in order, and the random ones
   * (`state`, `nonce`, `code_challenge`) named like ids, so the state in the URL, the cookie
   * and the state row are cross-checked while their values are not compared.
   */
  authorizationUrl(value) {
    let url;
    try {
      url = new URL(value);
    } catch {
      return null;
    }
    const params = {};
    for (const [k, v] of url.searchParams) {
      params[k] = RANDOM_PARAMS.has(k) ? this.id(v) : v.split(this.origin).join("<origin>");
    }
    return { "~endpoint": `${url.origin}${url.pathname}`, "~order": [...url.searchParams.keys()].join(" "), params };
  }

  /** Masks a JSON value; objects are visited in sorted key order. */
  value(v, key) {
    if (typeof v === "string") return this.string(v, key);
    if (Array.isArray(v)) return v.map((item) => this.value(item));
    if (v && typeof v === "object") {
      const out = {};
      for (const k of Object.keys(v).sort()) out[k] = this.value(v[k], k);
      derive(v, out);
      return out;
    }
    return v;
  }
}

/** Adds relations between masked values: lifetimes and token ages, in seconds. */
function derive(raw, out) {
  const seconds = (a, b) => Math.round((Date.parse(a) - Date.parse(b)) / 1000 / 60) * 60;
  if (typeof raw.expiresAt === "string" && typeof raw.createdAt === "string" && ISO_DATE.test(raw.expiresAt)) {
    // Rounded to the minute: the two servers' clocks are read at slightly different moments.
    out["~expiresAt-createdAt"] = seconds(raw.expiresAt, raw.createdAt);
  }
  if (typeof raw.iat === "number" && typeof raw.exp === "number") {
    out["~exp-iat"] = raw.exp - raw.iat;
    out.iat = "<number>";
    out.exp = "<number>";
  }
}

function decodeJwt(token) {
  const [h, p] = token.split(".");
  try {
    const header = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
    const payload = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
    if (!header || typeof header.alg !== "string") return null;
    return { header, payload };
  } catch {
    return null;
  }
}

/** Parses one Set-Cookie header: {name, value, attributes: {lower-case name: value|true}}. */
export function parseSetCookie(header) {
  const [pair, ...rest] = header.split(";");
  const eq = pair.indexOf("=");
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  const attributes = {};
  for (const part of rest) {
    const [k, ...v] = part.split("=");
    attributes[k.trim().toLowerCase()] = v.length ? v.join("=").trim() : true;
  }
  // Attribute order is compared too (better-call's is fixed); kept as a list of names.
  const order = rest.map((part) => part.split("=")[0].trim().toLowerCase());
  return { name, value, attributes, order };
}

/** Normalises one response for comparison. */
export function normalise(masker, response) {
  const out = { status: response.status, headers: {}, cookies: {} };
  // Body first, so ids are numbered in the order a client meets them.
  if (response.text === "") {
    out.body = { "~text": "" };
  } else {
    let parsed;
    let isJson = true;
    try {
      parsed = JSON.parse(response.text);
    } catch {
      isJson = false;
    }
    out.body = isJson ? masker.value(parsed) : { "~text": masker.string(response.text.slice(0, 200)) };
  }
  for (const name of COMPARED_HEADERS) {
    const value = response.headers.get(name);
    if (value === null) continue;
    if (LIST_HEADERS.has(name)) {
      out.headers[name] = value
        .split(",")
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean)
        .sort()
        .join(", ");
    } else if (name === "x-retry-after" || name === "retry-after") {
      // The seconds left depend on when each server's window opened; that there is a number is
      // what is compared (the 429 cases pin the rest).
      out.headers[name] = /^\d+$/.test(value) ? "<seconds>" : value;
    } else {
      out.headers[name] = masker.value(value);
    }
  }
  for (const header of response.headers.getSetCookie()) {
    const cookie = parseSetCookie(header);
    const decoded = decodeURIComponent(cookie.value);
    const signedState = /(^|\.)state$/.test(cookie.name) ? SIGNED.exec(decoded) : null;
    // The OAuth state cookie signs a random url-safe state: named like an id (see authorizationUrl).
    const value = signedState ? `${masker.id(signedState[1])}.<sig>` : masker.string(decoded);
    const entry = { value: cookie.value === "" ? "" : value };
    for (const [k, v] of Object.entries(cookie.attributes)) entry[k] = k === "expires" ? "<date>" : v;
    entry["~order"] = cookie.order.join(" ");
    if (out.cookies[cookie.name]) entry["~duplicate"] = true;
    out.cookies[cookie.name] = entry;
  }
  return out;
}

/** Flattens a normalised value into {path: leaf} for diffing. */
export function flatten(value, prefix = "", out = {}) {
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    // An empty body object or array is a value; empty header/cookie maps are just absence.
    if (keys.length === 0 && prefix.startsWith("body")) out[prefix] = Array.isArray(value) ? "[]" : "{}";
    for (const k of keys) {
      const part = Array.isArray(value) ? `[${k}]` : prefix ? `.${k}` : k;
      flatten(value[k], `${prefix}${part}`, out);
    }
  } else {
    out[prefix] = value;
  }
  return out;
}

/** The differences between two normalised exchanges: [{path, betterAuth, tessera}]. */
export function diff(a, b) {
  const fa = flatten(a);
  const fb = flatten(b);
  const paths = [...new Set([...Object.keys(fa), ...Object.keys(fb)])].sort();
  const out = [];
  for (const path of paths) {
    const va = path in fa ? fa[path] : "<absent>";
    const vb = path in fb ? fb[path] : "<absent>";
    if (JSON.stringify(va) !== JSON.stringify(vb)) out.push({ path, betterAuth: va, tessera: vb });
  }
  return out;
}
