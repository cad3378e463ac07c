// A software passkey for the differential tests: one ES256 credential made with node:crypto,
// attestation "none", answering registration and authentication options the way a browser
// serialises WebAuthn responses (base64url fields). The same key registers on both servers, so
// their stored passkeys (credential id, COSE key) compare byte for byte.

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
