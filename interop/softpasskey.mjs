// A software passkey for the interop tests: one ES256 credential made with node:crypto,
// attestation "none", answering registration and authentication options the way a browser
// serialises WebAuthn responses (base64url fields). The differential harness registers the same
// key on both servers, so their stored passkeys (credential id, COSE key) compare byte for byte;
// the client scenario puts it behind `navigator.credentials` (installWebAuthn) so the real
// @better-auth/passkey client, through @simplewebauthn/browser, runs its ceremonies on Node.

import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
const sha256 = (data) => createHash("sha256").update(data).digest();

/** CBOR for the few shapes WebAuthn needs: unsigned/negative ints, bytes, text, maps. */
function cbor(value) {
  const head = (major, n) => {
    if (n < 24) return Buffer.from([(major << 5) | n]);
    if (n < 256) return Buffer.from([(major << 5) | 24, n]);
    if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
    throw new Error("length too large for this encoder");
  };
  if (typeof value === "number") return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === "string") {
    const bytes = Buffer.from(value, "utf8");
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (Buffer.isBuffer(value)) return Buffer.concat([head(2, value.length), value]);
  if (value instanceof Map) {
    const parts = [head(5, value.size)];
    for (const [k, v] of value) parts.push(cbor(k), cbor(v));
    return Buffer.concat(parts);
  }
  throw new Error(`cannot encode ${typeof value}`);
}

export class SoftPasskey {
  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    this.privateKey = privateKey;
    const jwk = publicKey.export({ format: "jwk" });
    this.x = Buffer.from(jwk.x, "base64url");
    this.y = Buffer.from(jwk.y, "base64url");
    this.credentialId = randomBytes(16);
    this.counter = 0;
  }

  get id() {
    return b64url(this.credentialId);
  }

  /** The COSE_Key in CTAP2's canonical order: kty, alg, crv, x, y. */
  coseKey() {
    return cbor(new Map([[1, 2], [3, -7], [-1, 1], [-2, this.x], [-3, this.y]]));
  }

  clientData(type, challenge, origin) {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  /** `navigator.credentials.create()`'s answer to registration `options`, from `origin`. */
  register(options, origin) {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(this.credentialId.length);
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(this.counter);
    const authData = Buffer.concat([
      sha256(options.rp.id),
      Buffer.from([0x01 | 0x04 | 0x40]),
      counter,
      Buffer.alloc(16),
      length,
      this.credentialId,
      this.coseKey(),
    ]);
    const attestation = cbor(new Map([["fmt", "none"], ["attStmt", new Map()], ["authData", authData]]));
    return {
      id: this.id,
      rawId: this.id,
      type: "public-key",
      response: {
        clientDataJSON: b64url(this.clientData("webauthn.create", options.challenge, origin)),
        attestationObject: b64url(attestation),
        transports: ["internal"],
      },
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
    };
  }

  /** `navigator.credentials.get()`'s answer to authentication `options`, carrying `counter`. */
  assert(options, origin, counter = this.counter + 1) {
    this.counter = Math.max(this.counter, counter);
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    const authData = Buffer.concat([sha256(options.rpId), Buffer.from([0x01 | 0x04]), count]);
    const clientData = this.clientData("webauthn.get", options.challenge, origin);
    const signature = sign("sha256", Buffer.concat([authData, sha256(clientData)]), this.privateKey);
    return {
      id: this.id,
      rawId: this.id,
      type: "public-key",
      response: {
        clientDataJSON: b64url(clientData),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
      },
      clientExtensionResults: {},
    };
  }
}

/** Bytes (ArrayBuffer or a view) as base64url, as the options JSON carried them. */
const bytesToB64url = (bytes) =>
  b64url(ArrayBuffer.isView(bytes) ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : Buffer.from(bytes));

/** base64url as a fresh ArrayBuffer, the type WebAuthn's credential fields have. */
function b64urlToBuffer(text) {
  const bytes = Buffer.from(text, "base64url");
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

/** True if a descriptor list (excludeCredentials / allowCredentials) names `key`. */
const names = (descriptors, key) => (descriptors ?? []).some((d) => bytesToB64url(d.id) === key.id);

/**
 * Installs `navigator.credentials.create/get` and `PublicKeyCredential` on this Node process,
 * answered by `key` as a browser on page `origin` would: the RP id defaults to the origin's host,
 * a key already in excludeCredentials refuses with InvalidStateError, and a get whose
 * allowCredentials does not name the key refuses with NotAllowedError (what a browser reports
 * when no authenticator has a matching credential).
 */
export function installWebAuthn(key, origin) {
  const host = new URL(origin).hostname;
  const credential = (json, response) => ({
    id: json.id,
    rawId: b64urlToBuffer(json.rawId),
    type: json.type,
    authenticatorAttachment: json.authenticatorAttachment ?? null,
    response,
    getClientExtensionResults: () => ({}),
  });
  const credentials = {
    async create({ publicKey }) {
      if (names(publicKey.excludeCredentials, key)) {
        throw new DOMException("The authenticator already holds a credential for this account", "InvalidStateError");
      }
      const options = { rp: { id: publicKey.rp.id ?? host }, challenge: bytesToB64url(publicKey.challenge) };
      const json = key.register(options, origin);
      return credential(json, {
        clientDataJSON: b64urlToBuffer(json.response.clientDataJSON),
        attestationObject: b64urlToBuffer(json.response.attestationObject),
        getTransports: () => json.response.transports,
      });
    },
    async get({ publicKey }) {
      const allow = publicKey.allowCredentials ?? [];
      if (allow.length > 0 && !names(allow, key)) {
        throw new DOMException("No credential for this request", "NotAllowedError");
      }
      const json = key.assert({ rpId: publicKey.rpId ?? host, challenge: bytesToB64url(publicKey.challenge) }, origin);
      return credential(json, {
        clientDataJSON: b64urlToBuffer(json.response.clientDataJSON),
        authenticatorData: b64urlToBuffer(json.response.authenticatorData),
        signature: b64urlToBuffer(json.response.signature),
        userHandle: null,
      });
    },
  };
  globalThis.PublicKeyCredential ??= class PublicKeyCredential {};
  // Node 20 has no navigator; Node 21+ has one without credentials.
  if (globalThis.navigator === undefined) {
    Object.defineProperty(globalThis, "navigator", { value: {}, configurable: true, writable: true });
  }
  Object.defineProperty(globalThis.navigator, "credentials", { value: credentials, configurable: true });
}
